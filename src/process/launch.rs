//! Starting a node process without copying the host.
//!
//! `fork` copies the host's page tables, and afterwards every page either
//! side writes is copied on a fault: in a Zeek or Python host of a few GB
//! that is milliseconds per node, and it showed as a third of a 50-node
//! deploy even in a small host. `posix_spawn` avoids the copy with a child
//! that borrows the parent's memory until it execs (`clone` with `CLONE_VM
//! | CLONE_VFORK`), but it cannot arm a parent-death signal or pin a CPU,
//! which nodes need. This module starts nodes the way glibc's
//! `posix_spawn` does, and does those two things in the child as well.
//!
//! The rules that make a child sharing the parent's memory safe:
//!
//! - it runs on a stack of its own ([`ChildStack`]), never returns, and
//!   ends in `execve` or `_exit`;
//! - it reads only data prepared beforehand ([`Launch`]: C strings, pointer
//!   arrays, descriptors, a CPU set), allocates nothing, takes no lock, and
//!   calls only async-signal-safe functions;
//! - no signal handler of the host may run in it: the spawner thread keeps
//!   every signal blocked for its whole life ([`block_all_signals`]), and
//!   the child's first act is to reset every handler to the default (its
//!   handler table is its own copy: no `CLONE_SIGHAND`), its last before
//!   exec to unblock every signal;
//! - the only thing it writes to shared memory is why it failed, through
//!   atomics the parent reads once the child has exec'd or exited (the
//!   kernel resumes the parent only then).
//!
//! `CLONE_PIDFD` hands back a pidfd with the pid, so there is no window in
//! which the pid could be reused before it is watched, and the node is
//! reaped through that pidfd (`waitid(P_PIDFD)`), never by its bare pid. A
//! host that reaps every child itself (`waitpid(-1)`, or SIGCHLD ignored so
//! that the kernel does) can still take a node's exit before the agent
//! does; the status is then read from the pidfd (`PIDFD_GET_INFO`, Linux
//! 6.15), which the kernel keeps for whoever holds one.
//!
//! Before it execs, the child closes every descriptor above its standard
//! three (`close_range`), so nothing the host opened without close-on-exec
//! leaks into a node, and, unless it is to survive the host
//! (`stop_nodes_on_free: false`: no parent-death signal either), registers
//! itself with the supervisor's [`watchdog`](super::watchdog), which kills
//! it if the host dies: the parent-death signal does not survive an exec
//! that gains capabilities.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, Ordering};

use super::watchdog::{Slot, SlotRef};
use crate::sys::proc::{pidfd_exited, pidfd_send_signal, wait_pidfd};

/// What the child writes to its standard error when it cannot pin its CPU.
const CPU_WARNING: &[u8] = b"zeek-mgmt-agent: warning: could not pin the node to its CPU\n";

/// The child's stack: ample for its few small frames; the lowest page is a
/// guard.
const STACK_BYTES: usize = 128 * 1024;

/// Where in the child a start failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
enum Step {
    ProcessGroup = 1,
    ParentDeathSignal = 2,
    Stdio = 3,
    Directory = 4,
    Exec = 5,
    /// The host died while the node was being started.
    HostGone = 6,
}

impl Step {
    fn from_code(code: i32) -> Option<Step> {
        [
            Step::ProcessGroup,
            Step::ParentDeathSignal,
            Step::Stdio,
            Step::Directory,
            Step::Exec,
            Step::HostGone,
        ]
        .into_iter()
        .find(|s| *s as i32 == code)
    }

    /// What failed, for the message; none for the exec itself, whose reason
    /// (no such file, permission denied) says it all.
    fn describe(self) -> Option<&'static str> {
        match self {
            Step::ProcessGroup => Some("cannot give the node its own process group"),
            Step::ParentDeathSignal => Some("cannot arm the parent-death signal"),
            Step::Stdio => Some("cannot connect the node's output pipes"),
            Step::Directory => Some("cannot change into the node directory"),
            Step::HostGone => Some("the host process ended during the start"),
            Step::Exec => None,
        }
    }
}

/// What a node's process is started with.
pub(crate) struct Command<'a> {
    /// The program, for messages.
    pub(crate) program: &'a std::path::Path,
    /// What is exec'd: the program, or a link to it; a relative path is
    /// taken in `dir`.
    pub(crate) path: &'a std::path::Path,
    pub(crate) argv0: &'a str,
    pub(crate) args: &'a [String],
    /// Entries added to (or replacing those of) the host's environment.
    pub(crate) env: &'a [(String, String)],
    pub(crate) dir: RawFd,
    pub(crate) cpu: Option<usize>,
    /// The node dies with the host (`stop_nodes_on_free`): the child arms
    /// a parent-death signal and checks that the host is still there.
    pub(crate) stop_nodes_on_free: bool,
    /// The watchdog slot the child registers itself in before exec; `None`
    /// for a node that is to survive the host.
    pub(crate) slot: Option<SlotRef>,
}

/// Everything the child reads, prepared in the parent. The pointer arrays
/// point into the C strings beside them.
struct Launch<'a> {
    path: CString,
    _argv: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    envp: Vec<*const libc::c_char>,
    /// Descriptors for the child's stdin, stdout and stderr, all above 2 so
    /// that no `dup2` overwrites another.
    stdio: [RawFd; 3],
    dir: RawFd,
    cpu: Option<libc::cpu_set_t>,
    stop_nodes_on_free: bool,
    parent: libc::pid_t,
    slot: Option<&'a Slot>,
    /// Where the kernel stores the child's pidfd (`CLONE_PIDFD`), before
    /// the child first runs: the child reads it to register itself.
    pidfd: AtomicI32,
    failed_step: AtomicI32,
    failed_errno: AtomicI32,
}

fn c_string(what: &str, bytes: Vec<u8>) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        )
    })
}

/// The host's environment with the node's entries over it, as `K=V`.
fn environment(extra: &[(String, String)]) -> io::Result<Vec<CString>> {
    let mut env: std::collections::BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    for (key, value) in extra {
        if key.is_empty() || key.contains('=') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("environment variable name '{key}' is empty or contains '='"),
            ));
        }
        env.insert(key.into(), value.into());
    }
    env.into_iter()
        .map(|(key, value)| {
            let mut entry = key.into_vec();
            entry.push(b'=');
            entry.extend(value.into_vec());
            c_string("an environment entry", entry)
        })
        .collect()
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// A pipe: (read end, write end), both close-on-exec.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two fresh descriptors nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Moves a descriptor above 2 (a host may have closed its own stdio, and
/// then a new pipe can be descriptor 1).
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own returns a new one.
    let moved = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if moved < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

/// A started node process: its pid (not reaped until [`NodeProcess::
/// try_wait`] or [`NodeProcess::wait`] says it exited, so the pid stays
/// its own), a pidfd readable once it exits, its output pipes, and its
/// watchdog slot.
pub(crate) struct NodeProcess {
    pub(crate) pid: i32,
    pub(crate) pidfd: OwnedFd,
    pub(crate) stdout: Option<File>,
    pub(crate) stderr: Option<File>,
    /// Freed just before the process is reaped, so the watchdog never
    /// signals a pid that may be reused.
    slot: Option<SlotRef>,
}

impl NodeProcess {
    /// A process this agent did not start (adopted from an earlier agent):
    /// no output pipes, no watchdog slot. Its exit is noticed through the
    /// pidfd; it cannot be reaped here (it is not our child), and its exit
    /// status is known only where the kernel keeps it for pidfd holders.
    pub(crate) fn adopted(pid: i32, pidfd: OwnedFd) -> NodeProcess {
        NodeProcess {
            pid,
            pidfd,
            stdout: None,
            stderr: None,
            slot: None,
        }
    }

    /// Sends SIGKILL to the process (not its group), through its pidfd.
    pub(crate) fn kill(&self) {
        pidfd_send_signal(self.pidfd.as_raw_fd(), libc::SIGKILL);
    }

    fn wait_with(&mut self, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
        if flags & libc::WNOHANG != 0 && !pidfd_exited(self.pidfd.as_raw_fd()) {
            return Ok(None);
        }
        // It has exited (or we wait until it has): out of the watchdog's
        // registry before its pid is released.
        drop(self.slot.take());
        wait_pidfd(self.pidfd.as_raw_fd(), flags)
    }

    /// The exit status, if the process has exited (then it is reaped).
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.wait_with(libc::WNOHANG)
    }

    /// Waits for the process to exit and reaps it.
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        self.wait_with(0)?
            .ok_or_else(|| io::Error::other("waitid returned no status"))
    }
}

/// The stack the child runs on, reused by every start of one spawner
/// thread (starts on it are serial, and a child is done with the stack
/// once the parent resumes).
pub(crate) struct ChildStack {
    base: *mut libc::c_void,
}

impl ChildStack {
    pub(crate) fn new() -> io::Result<ChildStack> {
        // SAFETY: an anonymous private mapping; no memory is passed in.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STACK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base };
        // SAFETY: the lowest page of the mapping just made becomes a guard.
        if unsafe { libc::mprotect(base, page_size(), libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The top of the stack (stacks grow down on every Linux target).
    pub(crate) fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping, 16-byte aligned because
        // the mapping is page aligned and its size a multiple of 16.
        unsafe { self.base.cast::<u8>().add(STACK_BYTES).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer used by any child.
        unsafe { libc::munmap(self.base, STACK_BYTES) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// Blocks every signal on the calling thread, for good: the spawner thread
/// calls this once, first thing (see the module documentation).
pub(crate) fn block_all_signals() {
    // SAFETY: fills a local set and applies it to this thread only.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
    }
}

/// Starts a node process. Returns once the child has exec'd (or failed
/// to, with the step and the reason).
pub(crate) fn start(command: Command<'_>, stack: &ChildStack) -> io::Result<NodeProcess> {
    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let null = File::open("/dev/null")?;
    let stdin = above_stdio(OwnedFd::from(null))?;
    let out_write = above_stdio(out_write)?;
    let err_write = above_stdio(err_write)?;

    let path = c_string(
        "the program path",
        command.path.as_os_str().as_bytes().to_vec(),
    )?;
    let argv: Vec<CString> = std::iter::once(command.argv0)
        .chain(command.args.iter().map(String::as_str))
        .map(|arg| c_string("an argument", arg.as_bytes().to_vec()))
        .collect::<io::Result<_>>()?;
    let envp = environment(command.env)?;
    let cpu = command.cpu.map(|cpu| {
        // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET is given
        // an index below CPU_SETSIZE.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if cpu < libc::CPU_SETSIZE as usize {
                libc::CPU_SET(cpu, &mut set);
            }
            set // an empty set fails in the child, which then warns
        }
    });
    let launch = Launch {
        argv: null_terminated(&argv),
        _argv: argv,
        envp: null_terminated(&envp),
        _envp: envp,
        path,
        stdio: [
            stdin.as_raw_fd(),
            out_write.as_raw_fd(),
            err_write.as_raw_fd(),
        ],
        dir: command.dir,
        cpu,
        stop_nodes_on_free: command.stop_nodes_on_free,
        // SAFETY: getpid has no preconditions.
        parent: unsafe { libc::getpid() },
        slot: command.slot.as_ref().and_then(SlotRef::slot),
        pidfd: AtomicI32::new(-1),
        failed_step: AtomicI32::new(0),
        failed_errno: AtomicI32::new(0),
    };

    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
    // SAFETY: `child` runs on `stack`, which nothing else uses while this
    // thread is suspended (CLONE_VFORK); it only reads `launch`, which
    // outlives the call, and writes its atomics and its watchdog slot; it
    // never returns. The kernel writes the pidfd into `launch.pidfd`
    // (CLONE_PIDFD uses the parent_tid argument) before the child runs.
    let pid = unsafe {
        libc::clone(
            child,
            stack.top(),
            flags,
            std::ptr::from_ref(&launch).cast_mut().cast(),
            launch.pidfd.as_ptr(),
        )
    };
    if pid < 0 {
        return Err(clone_error());
    }
    // SAFETY: the kernel made this descriptor for us (CLONE_PIDFD).
    let pidfd = unsafe { OwnedFd::from_raw_fd(launch.pidfd.load(Ordering::Acquire)) };
    let failed = Step::from_code(launch.failed_step.load(Ordering::Acquire))
        .map(|step| (step, launch.failed_errno.load(Ordering::Acquire)));
    drop(launch);
    let mut process = NodeProcess {
        pid,
        pidfd,
        stdout: Some(File::from(out_read)),
        stderr: Some(File::from(err_read)),
        slot: command.slot,
    };
    drop((stdin, out_write, err_write));
    if let Some((step, errno)) = failed {
        let _ = process.wait(); // it has _exit'ed: reap it
        let reason = io::Error::from_raw_os_error(errno);
        return Err(match step.describe() {
            Some(step) => io::Error::new(reason.kind(), format!("{step}: {reason}")),
            // ENOENT for a file that is there: a script's interpreter or the
            // program's dynamic loader is missing.
            None if errno == libc::ENOENT && command.program.exists() => hint(
                reason,
                "the file exists: an interpreter or library it needs is missing",
            ),
            None => reason,
        });
    }
    Ok(process)
}

/// Why a `clone` just failed, with a hint where the cause is likely.
pub(crate) fn clone_error() -> io::Error {
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EAGAIN) {
        return hint(
            e,
            "the process limit, RLIMIT_NPROC or the system's, is reached",
        );
    }
    e
}

/// `error` with a hint at its likely cause after it.
fn hint(error: io::Error, cause: &str) -> io::Error {
    io::Error::new(error.kind(), format!("{error} ({cause})"))
}

/// The child: see the module documentation for what it may do.
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Launch` of `start`, alive while the parent is
    // suspended, which is for as long as this runs.
    let launch = unsafe { &*arg.cast_const().cast::<Launch>() };
    // SAFETY: this is the child of a CLONE_VM | CLONE_VFORK clone, which is
    // what `child_steps` is written for.
    unsafe { child_steps(launch) }
}

/// Records why the start failed and ends the child.
///
/// # Safety
/// Only in the child.
unsafe fn fail(launch: &Launch, step: Step) -> ! {
    let errno = *libc::__errno_location();
    launch.failed_errno.store(errno, Ordering::Release);
    launch.failed_step.store(step as i32, Ordering::Release);
    libc::_exit(127)
}

/// Closes every descriptor above 2 in the child: `close_range` (Linux 5.9),
/// else one by one up to the descriptor limit.
///
/// # Safety
/// Only in the child, after its standard descriptors are in place.
unsafe fn close_above_stdio() {
    if libc::syscall(
        libc::SYS_close_range,
        3 as libc::c_uint,
        libc::c_uint::MAX,
        0,
    ) == 0
    {
        return;
    }
    let mut limit: libc::rlimit = std::mem::zeroed();
    let highest = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
        limit.rlim_cur.min(1 << 20) as libc::c_int
    } else {
        1 << 16
    };
    for fd in 3..highest {
        libc::close(fd);
    }
}

/// # Safety
/// Only in the child of a `CLONE_VM | CLONE_VFORK` clone made by `start`,
/// with every signal blocked.
unsafe fn child_steps(launch: &Launch) -> ! {
    // No handler of the host may run here; SIGPIPE goes back to the
    // default too (hosts such as Rust programs and Python ignore it, and a
    // node should not inherit that).
    for signal in 1..65 {
        let mut action: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, std::ptr::null(), &mut action) != 0 {
            continue; // not a signal this libc lets us touch
        }
        if action.sa_sigaction == libc::SIG_DFL
            || (action.sa_sigaction == libc::SIG_IGN && signal != libc::SIGPIPE)
        {
            continue;
        }
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
    if libc::setpgid(0, 0) != 0 {
        fail(launch, Step::ProcessGroup);
    }
    if launch.stop_nodes_on_free && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
        fail(launch, Step::ParentDeathSignal);
    }
    if let Some(slot) = launch.slot {
        slot.fill(libc::getpid(), launch.pidfd.load(Ordering::Acquire));
    }
    // The host may have died before the signal was armed or the watchdog
    // knew this node (it then killed what it knew and left).
    if (launch.stop_nodes_on_free || launch.slot.is_some()) && libc::getppid() != launch.parent {
        fail(launch, Step::HostGone);
    }
    // Before the dup2s: the directory's descriptor may itself be 0, 1 or 2
    // in a host that closed its stdio.
    if libc::fchdir(launch.dir) != 0 {
        fail(launch, Step::Directory);
    }
    for (target, fd) in launch.stdio.iter().enumerate() {
        // `fd` is above 2, so this never clobbers another of the three; the
        // copy is not close-on-exec.
        if libc::dup2(*fd, target as libc::c_int) < 0 {
            fail(launch, Step::Stdio);
        }
    }
    close_above_stdio();
    if let Some(set) = &launch.cpu {
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0 {
            // Zeek's Supervisor also only warns; this lands in the node's
            // stderr file.
            libc::write(2, CPU_WARNING.as_ptr().cast(), CPU_WARNING.len());
        }
    }
    let mut none: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut none);
    libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    libc::execve(
        launch.path.as_ptr(),
        launch.argv.as_ptr(),
        launch.envp.as_ptr(),
    );
    fail(launch, Step::Exec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_puts_node_entries_over_the_hosts() {
        let env = environment(&[
            ("ZMA_TEST_ENTRY".into(), "1".into()),
            ("PATH".into(), "/x".into()),
        ])
        .unwrap();
        let entries: Vec<&[u8]> = env.iter().map(|e| e.as_bytes()).collect();
        assert!(entries.contains(&b"ZMA_TEST_ENTRY=1".as_slice()));
        assert!(entries.contains(&b"PATH=/x".as_slice()));
        assert_eq!(
            entries.iter().filter(|e| e.starts_with(b"PATH=")).count(),
            1
        );
    }

    #[test]
    fn environment_refuses_bad_names_and_nul_bytes() {
        let e = environment(&[("A=B".into(), "1".into())]).unwrap_err();
        assert!(e.to_string().contains("'A=B'"), "{e}");
        let e = environment(&[("".into(), "1".into())]).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = environment(&[("A".into(), "x\0y".into())]).unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
    }

    /// Set in the child process of the test below.
    const CLOSED_STDIO_CHILD: &str = "ZMA_TEST_LAUNCH_CLOSED_STDIO";

    #[test]
    fn a_node_gets_its_output_even_when_the_host_closed_its_stdio() {
        // With descriptors 0 and 1 closed, the stdout pipe is (0, 1): its
        // write end must be moved above 2, or the child's dup2(1, 1) would
        // leave it close-on-exec and the node's stdout would vanish. The
        // test runs itself again in a child process that closes 0 and 1.
        let name =
            "process::launch::tests::a_node_gets_its_output_even_when_the_host_closed_its_stdio";
        if std::env::var_os(CLOSED_STDIO_CHILD).is_some() {
            let dir = File::open("/").unwrap();
            // SAFETY: this child process's own stdin and stdout, unused.
            unsafe {
                libc::close(0);
                libc::close(1);
            }
            let stack = ChildStack::new().unwrap();
            let args = ["-c".to_owned(), "echo out; echo err >&2".to_owned()];
            let command = Command {
                program: std::path::Path::new("/bin/sh"),
                path: std::path::Path::new("/bin/sh"),
                argv0: "sh",
                args: &args,
                env: &[],
                dir: dir.as_raw_fd(),
                cpu: None,
                stop_nodes_on_free: true,
                slot: None,
            };
            let mut process = start(command, &stack).unwrap();
            let mut out = String::new();
            let mut err = String::new();
            std::io::Read::read_to_string(process.stdout.as_mut().unwrap(), &mut out).unwrap();
            std::io::Read::read_to_string(process.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(process.wait().unwrap().success());
            assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
            return;
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--test-threads=1", "--nocapture"])
            .env(CLOSED_STDIO_CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
    }

    #[test]
    fn step_codes_round_trip() {
        for step in [
            Step::ProcessGroup,
            Step::ParentDeathSignal,
            Step::Stdio,
            Step::Directory,
            Step::Exec,
            Step::HostGone,
        ] {
            assert_eq!(Step::from_code(step as i32), Some(step));
        }
        assert_eq!(Step::from_code(0), None);
    }
}
