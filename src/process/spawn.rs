//! Starting one node process, and everything that has to happen first.
//!
//! The node's directory is created (mode 0700) unless it exists; a symbolic
//! link there is refused, and everything inside is opened relative to a
//! descriptor of the directory opened without following links, so the
//! directory cannot be swapped between check and use. The process itself
//! is started by [`launch`]: it changes into that descriptor with
//! `fchdir`, joins a process group of its own, gets a parent-death signal
//! (so nodes never outlive the host process, unless `stop_nodes_on_free`
//! is false), is pinned to its CPU, and execs the program directly (never
//! a shell).
//!
//! **Process names.** Zeek's Supervisor names a node `zeek.<node>` with
//! `prctl(PR_SET_NAME)` in the forked Zeek; a process started with `exec`
//! cannot be renamed from outside, and Zeek needs a real argv[0] (it finds
//! its own binary through it: an absolute path as is, a path with `/`
//! against its working directory, a bare name on `PATH`). So the node
//! directory holds a symbolic link `zeek.<node>` to the program, and the
//! node execs `./zeek.<node>` from there: the kernel names the process
//! after the file it ran (`comm`, what `ps`, `top` and `pgrep` show, cut
//! at 15 bytes as for Zeek's Supervisor), and argv[0] is the link's
//! absolute path `<node dir>/zeek.<node>`, which Zeek can resolve.
//!
//! Starts run on one long-lived thread per supervisor: Linux sends the
//! parent-death signal when the *thread* that started a process exits, and
//! host threads may be short-lived. Handing a start to that thread does not
//! wait for it ([`Spawner::submit`]), so the agent prepares the next node's
//! directory while the previous node is being started.

use std::ffi::{CString, OsString};
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};

use super::keep::{self, Kept};
use super::launch::{self, ChildStack, NodeProcess};
use super::layout::LAYOUT_FILE;
use super::watchdog::{Registry, SlotRef, Watchdog};
use crate::engine::MANAGEMENT_NODE_SCRIPT;
use crate::model::NodeConfig;
use crate::sys::proc::process_start_time;

/// Files a node directory holds.
pub(crate) const STDOUT_FILE: &str = "stdout";
pub(crate) const STDERR_FILE: &str = "stderr";
pub(crate) const PID_FILE: &str = "pid";
/// The script that lets Zeek's management node script run outside a Zeek
/// Supervisor (see [`UNSUPERVISED_TEXT`]), and its name on the command line
/// (found through `ZEEKPATH`, whose first entry is the node directory).
const UNSUPERVISED_FILE: &str = "zeek-mgmt-agent-unsupervised.zeek";
const UNSUPERVISED_SCRIPT: &str = "zeek-mgmt-agent-unsupervised";

/// Loaded right before `policy/frameworks/management/node`. Every log call
/// of Zeek's management framework (`Management::Log`) asks
/// `Supervisor::node()` for the node's name, an error outside a Zeek
/// Supervisor, and a fatal one while Zeek initializes: the node script
/// logs in its `zeek_init`, so a node exited at once ("not a supervised
/// process", Zeek 5.0 to 8.0). That log's stream is only created in
/// supervised processes anyway, so nothing is lost by switching it off
/// with a level above `ERROR`.
const UNSUPERVISED_TEXT: &str = "\
# Written by zeek-mgmt-agent, whose process supervisor runs this node outside
# a Zeek Supervisor. Zeek's management framework log (Management::Log) asks
# the Supervisor for the node's name, which fails outside one (\"not a supervised
# process\", fatal at start-up), and its log stream only exists in supervised
# processes. So it is switched off; policy/frameworks/management/node works as
# usual otherwise (it checks in with its agent and answers dispatches).
@load policy/frameworks/management/log

module ZeekMgmtAgent;

redef enum Management::Log::Level += { MANAGEMENT_LOG_OFF = 1000 };
redef Management::Log::level = MANAGEMENT_LOG_OFF;
";

/// Where a new program link is made before it is renamed into place.
const LINK_TEMP: &str = ".zeek-link.tmp";
/// The longest file name Linux file systems take (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// A node's process name, `zeek.<node>`: the name of its program link,
/// the last component of its argv[0], and (cut at 15 bytes) its `comm`.
pub(crate) fn process_name(node: &str) -> String {
    format!("zeek.{node}")
}

/// Whether a process's argv[0] names the node: its last component is
/// `zeek.<node>` (`<node dir>/zeek.<node>`; bare `zeek.<node>` as
/// started by earlier versions of this library).
pub(crate) fn argv0_names_node(argv0: &str, node: &str) -> bool {
    argv0.rsplit('/').next() == Some(process_name(node).as_str())
}

/// Everything needed to exec one node, prepared in the agent.
pub(crate) struct Plan {
    /// The program, for messages.
    program: PathBuf,
    /// What is exec'd, relative to the node directory: `./zeek.<node>`.
    path: PathBuf,
    argv0: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: Arc<OwnedFd>,
    cpu: Option<usize>,
    stop_nodes_on_free: bool,
}

/// A prepared node directory and the plan to start the node in it.
pub(crate) struct Prepared {
    pub(crate) plan: Plan,
    /// The node directory, opened without following links.
    pub(crate) dir: Arc<OwnedFd>,
    /// The `stdout` and `stderr` files, freshly truncated.
    pub(crate) stdout: File,
    pub(crate) stderr: File,
}

/// Settings that apply to every node.
pub(crate) struct SpawnSettings<'a> {
    pub(crate) program: &'a Path,
    /// The text of `cluster-layout.zeek` for the node's cluster.
    pub(crate) layout: &'a str,
    pub(crate) args_prefix: &'a [String],
    /// Where Zeek finds its own scripts after the node directory.
    pub(crate) zeekpath_tail: &'a str,
    /// Nodes die with the host (`stop_nodes_on_free`), or may outlive it.
    pub(crate) stop_nodes_on_free: bool,
}

/// Finds the program: a path as given, a bare name on `PATH`; made
/// absolute against the current directory now, because nodes run in their
/// own directories, where a relative path would name something else.
pub(crate) fn resolve_program(
    program: &str,
    path_var: Option<OsString>,
) -> Result<PathBuf, String> {
    let found = if program.contains('/') {
        PathBuf::from(program)
    } else {
        let path_var = path_var.unwrap_or_default();
        std::env::split_paths(&path_var)
            .map(|dir| dir.join(program))
            .find(|candidate| {
                std::fs::metadata(candidate)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .ok_or_else(|| format!("program '{program}' not found on PATH"))?
    };
    absolute(&found)
}

/// `path` made absolute against the current directory (not resolving links).
fn absolute(path: &Path) -> Result<PathBuf, String> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .map_err(|e| format!("cannot resolve {}: {e}", path.display()))
}

/// Zeek's default `ZEEKPATH` for a program installed as `<prefix>/bin/zeek`,
/// or the host's `ZEEKPATH` when it has one.
pub(crate) fn zeekpath_tail(program: &Path, host_zeekpath: Option<String>) -> String {
    if let Some(path) = host_zeekpath.filter(|p| !p.is_empty()) {
        return path;
    }
    let prefix = program
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/usr/local/zeek"));
    let share = prefix.join("share/zeek");
    format!(
        ".:{}:{}:{}",
        share.display(),
        share.join("policy").display(),
        share.join("site").display()
    )
}

fn mkdir(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// How [`open_in`] treats what a file already holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Existing {
    Truncate,
    Keep,
}

/// Opens `name` inside the directory `dir` for reading and writing, mode
/// 0600, without following a link and without blocking on a FIFO; refuses
/// anything but a regular file.
fn open_in(dir: RawFd, name: &str, existing: Existing) -> io::Result<File> {
    let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let truncate = if existing == Existing::Truncate {
        libc::O_TRUNC
    } else {
        0
    };
    // SAFETY: `dir` is an open directory descriptor and `name` a valid C
    // string for the duration of the call.
    let fd = unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            libc::O_RDWR
                | libc::O_CREAT
                | libc::O_NOFOLLOW
                | libc::O_NONBLOCK
                | libc::O_CLOEXEC
                | truncate,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    // A file left by someone else keeps its mode through O_CREAT.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Makes `name` in `dir` hold exactly `text`, writing only when it does not
/// already: rewriting an unchanged file on every deploy would cost a
/// truncation and, on ext4, a flush at close.
fn write_if_changed(dir: RawFd, name: &str, text: &[u8]) -> io::Result<()> {
    let mut file = open_in(dir, name, Existing::Keep)?;
    let mut current = Vec::with_capacity(text.len() + 1);
    (&mut file)
        .take(text.len() as u64 + 1)
        .read_to_end(&mut current)?;
    if current == text {
        return Ok(());
    }
    file.write_all_at(text, 0)?;
    file.set_len(text.len() as u64)
}

/// Why [`link_in`] failed.
enum LinkError {
    /// Something that is not a symbolic link has the name.
    NotALink,
    Io(io::Error),
}

/// The target of the symbolic link `name` in `dir`.
fn read_link_in(dir: RawFd, name: &CString) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: `dir` is an open directory descriptor, `name` a C string,
    // and the buffer is as long as the length given.
    let len = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(len as usize);
    Ok(buf)
}

/// Makes `name` in `dir` a symbolic link to `target`, unless it is one
/// already: made under a temporary name and renamed over the old one, so
/// the name always leads to a program. Anything else under that name is
/// left alone and refused.
fn link_in(dir: RawFd, name: &str, target: &Path) -> Result<(), LinkError> {
    let c = |s: &[u8]| {
        CString::new(s).map_err(|_| LinkError::Io(io::Error::from(io::ErrorKind::InvalidInput)))
    };
    let (name, temp, target) = (
        c(name.as_bytes())?,
        c(LINK_TEMP.as_bytes())?,
        c(target.as_os_str().as_bytes())?,
    );
    match read_link_in(dir, &name) {
        Ok(current) if current == target.as_bytes() => return Ok(()),
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Err(LinkError::NotALink),
        Err(e) => return Err(LinkError::Io(e)),
    }
    let failed = |done: libc::c_int| (done != 0).then(io::Error::last_os_error);
    // A link left by an interrupted earlier attempt goes first.
    // SAFETY: `dir` is an open directory descriptor and `temp` a C string.
    if let Some(e) = failed(unsafe { libc::unlinkat(dir, temp.as_ptr(), 0) }) {
        if e.raw_os_error() != Some(libc::ENOENT) {
            return Err(LinkError::Io(e));
        }
    }
    // SAFETY: as above, and `target` is a C string.
    if let Some(e) = failed(unsafe { libc::symlinkat(target.as_ptr(), dir, temp.as_ptr()) }) {
        return Err(LinkError::Io(e));
    }
    // SAFETY: as above; renameat replaces `name` atomically.
    if let Some(e) = failed(unsafe { libc::renameat(dir, temp.as_ptr(), dir, name.as_ptr()) }) {
        // SAFETY: as above.
        unsafe { libc::unlinkat(dir, temp.as_ptr(), 0) };
        return Err(LinkError::Io(e));
    }
    Ok(())
}

/// Creates (or checks) the node directory, writes the layout file, opens
/// fresh output files, and plans the exec.
pub(crate) fn prepare(
    config: &NodeConfig,
    settings: &SpawnSettings<'_>,
) -> Result<Prepared, String> {
    let dir = config
        .directory
        .as_deref()
        .ok_or_else(|| format!("node {} has no directory", config.name))?;
    let dir = Path::new(dir);
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(format!(
                "node directory {} is a symbolic link; refusing to follow it",
                dir.display()
            ))
        }
        Ok(meta) if !meta.is_dir() => return Err(format!("{} is not a directory", dir.display())),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => mkdir(dir)
            .map_err(|e| format!("cannot create node directory {}: {e}", dir.display()))?,
        Err(e) => return Err(format!("cannot use node directory {}: {e}", dir.display())),
    }
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
        .map_err(|e| format!("cannot open node directory {}: {e}", dir.display()))?;
    let dir_fd = Arc::new(OwnedFd::from(handle));
    // Absolute, for ZEEKPATH (the node runs in the directory, not here).
    let absolute = absolute(dir)?;
    let cannot_write =
        |name: &str, e: io::Error| format!("cannot write {}/{name}: {e}", absolute.display());
    write_if_changed(dir_fd.as_raw_fd(), LAYOUT_FILE, settings.layout.as_bytes())
        .map_err(|e| cannot_write(LAYOUT_FILE, e))?;
    let process_name = process_name(&config.name);
    if process_name.len() > NAME_MAX {
        return Err(format!(
            "node name {} is too long for the process supervisor: its program link \
             {process_name} would be longer than {NAME_MAX} bytes",
            config.name
        ));
    }
    link_in(dir_fd.as_raw_fd(), &process_name, settings.program).map_err(|e| match e {
        LinkError::NotALink => format!(
            "{}/{process_name} is not a symbolic link; refusing to replace it",
            absolute.display()
        ),
        LinkError::Io(e) => format!(
            "cannot link {}/{process_name} to {}: {e}",
            absolute.display(),
            display(settings.program)
        ),
    })?;
    let output = |name: &str| {
        open_in(dir_fd.as_raw_fd(), name, Existing::Truncate).map_err(|e| cannot_write(name, e))
    };
    let stdout = output(STDOUT_FILE)?;
    let stderr = output(STDERR_FILE)?;

    let mut args: Vec<String> = settings.args_prefix.to_vec();
    if let Some(interface) = &config.interface {
        args.push("-i".to_owned());
        args.push(interface.clone());
    }
    args.extend(config.addl_base_scripts.iter().cloned());
    for script in &config.scripts {
        if script == MANAGEMENT_NODE_SCRIPT {
            write_if_changed(
                dir_fd.as_raw_fd(),
                UNSUPERVISED_FILE,
                UNSUPERVISED_TEXT.as_bytes(),
            )
            .map_err(|e| cannot_write(UNSUPERVISED_FILE, e))?;
            args.push(UNSUPERVISED_SCRIPT.to_owned());
        }
        args.push(script.clone());
    }

    let mut env: Vec<(String, String)> = config
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(("CLUSTER_NODE".to_owned(), config.name.clone()));
    env.push((
        "ZEEKPATH".to_owned(),
        format!("{}:{}", absolute.display(), settings.zeekpath_tail),
    ));

    Ok(Prepared {
        plan: Plan {
            program: settings.program.to_path_buf(),
            path: Path::new(".").join(&process_name),
            argv0: format!("{}/{process_name}", absolute.display()),
            args,
            env,
            dir: Arc::clone(&dir_fd),
            cpu: config.cpu_affinity.and_then(|c| usize::try_from(c).ok()),
            stop_nodes_on_free: settings.stop_nodes_on_free,
        },
        dir: dir_fd,
        stdout,
        stderr,
    })
}

/// Records the node's pid (and its start time, to tell a reused pid
/// apart) in the node directory. The record has a fixed width, so that it
/// is overwritten in place rather than truncated.
pub(crate) fn write_pid_file(dir: &OwnedFd, pid: i32) -> io::Result<()> {
    let start = process_start_time(pid).unwrap_or(0);
    let record = format!("{pid:<10} {start:<20}\n");
    let file = open_in(dir.as_raw_fd(), PID_FILE, Existing::Keep)?;
    file.write_all_at(record.as_bytes(), 0)?;
    file.set_len(record.len() as u64)
}

/// Starts one node (on the spawner thread), registered in `slot`.
fn exec(plan: &Plan, stack: &ChildStack, slot: SlotRef) -> io::Result<NodeProcess> {
    launch::start(
        launch::Command {
            program: &plan.program,
            path: &plan.path,
            argv0: &plan.argv0,
            args: &plan.args,
            env: &plan.env,
            dir: plan.dir.as_raw_fd(),
            cpu: plan.cpu,
            stop_nodes_on_free: plan.stop_nodes_on_free,
            slot: Some(slot),
        },
        stack,
    )
}

/// What the spawner thread sets up at its first start: the stack children
/// run on and the watchdog. An agent that never starts a node has neither.
struct Equipment {
    stack: ChildStack,
    registry: Arc<Registry>,
    /// Declared last: dropped (told to leave, and reaped) after the nodes
    /// it guards are handed on or gone.
    _watchdog: Watchdog,
}

impl Equipment {
    /// Called on the spawner thread, which blocks every signal first (see
    /// `launch`): the watchdog inherits that mask.
    fn new() -> io::Result<Equipment> {
        launch::block_all_signals();
        let stack = ChildStack::new()?;
        let registry = Registry::new();
        let watchdog = Watchdog::start(Arc::clone(&registry)).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot start the node watchdog: {e}"))
        })?;
        Ok(Equipment {
            stack,
            registry,
            _watchdog: watchdog,
        })
    }
}

/// Starts one node on the spawner thread. A child nobody waits for any
/// more is killed and reaped, never leaked.
fn start(plan: Plan, equipment: &Equipment, reply: mpsc::Sender<io::Result<NodeProcess>>) {
    let started = exec(&plan, &equipment.stack, equipment.registry.reserve());
    drop(plan);
    if let Err(mpsc::SendError(Ok(mut process))) = reply.send(started) {
        process.kill();
        let _ = process.wait();
    }
}

/// A start handed to the spawner thread.
pub(crate) struct Starting(Result<mpsc::Receiver<io::Result<NodeProcess>>, io::Error>);

impl Starting {
    /// Waits for the node's process (or why it could not start).
    pub(crate) fn wait(self) -> io::Result<NodeProcess> {
        self.0?
            .recv()
            .map_err(|_| io::Error::other("the spawner thread is gone"))?
    }
}

/// Work for the spawner thread.
enum Job {
    /// Start a node; the answer goes back on the channel.
    Start(Plan, mpsc::Sender<io::Result<NodeProcess>>),
    /// Look after nodes the freed agent leaves running (see `keep`).
    Keep(Vec<Kept>),
    /// Test hook: panic on the spawner thread.
    Panic,
}

/// The thread that starts every node of one supervisor.
pub(crate) struct Spawner {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// The thread panicked (and ended): the agent is unusable.
    panicked: Arc<AtomicBool>,
}

/// Sets the panic flag if dropped while unwinding.
struct PanicFlag(Arc<AtomicBool>);

impl Drop for PanicFlag {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// The spawner thread's loop: jobs in order until the supervisor is gone.
fn serve(queue: mpsc::Receiver<Job>, panicked: Arc<AtomicBool>) {
    // Dropped before `queue` (locals before parameters): the flag is set
    // before any pending start can fail for want of this thread, so the
    // runtime sees the panic with the first such failure.
    let _flag = PanicFlag(panicked);
    let mut equipment: Option<Equipment> = None;
    for job in queue {
        let (plan, reply) = match job {
            Job::Start(plan, reply) => (plan, reply),
            Job::Keep(kept) => {
                let _ = keep::keep(kept);
                continue;
            }
            Job::Panic => panic!("panic injected by a test on the spawner thread"),
        };
        if equipment.is_none() {
            match Equipment::new() {
                Ok(made) => equipment = Some(made),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    continue;
                }
            }
        }
        if let Some(equipment) = &equipment {
            start(plan, equipment, reply);
        }
    }
}

impl Spawner {
    pub(crate) fn new() -> io::Result<Spawner> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let panicked = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&panicked);
        let thread = thread::Builder::new()
            .name("zma-spawner".into())
            .spawn(move || {
                // A panic here ends the thread (pending starts then fail
                // with "the spawner thread is gone") and poisons the agent.
                let _ = catch_unwind(AssertUnwindSafe(|| serve(queue, flag)));
            })?;
        Ok(Spawner {
            jobs: Some(jobs),
            thread: Some(thread),
            panicked,
        })
    }

    /// Whether the spawner thread panicked.
    pub(crate) fn has_panicked(&self) -> bool {
        self.panicked.load(Ordering::SeqCst)
    }

    /// Test hook: the spawner thread panics at its next job.
    pub(crate) fn inject_panic(&self) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Panic);
        }
    }

    /// Hands a node start to the spawner thread without waiting for it.
    pub(crate) fn submit(&self, plan: Plan) -> Starting {
        let (reply, answer) = mpsc::channel();
        let Some(jobs) = self.jobs.as_ref() else {
            return Starting(Err(io::Error::other("the spawner is stopped")));
        };
        match jobs.send(Job::Start(plan, reply)) {
            Ok(()) => Starting(Ok(answer)),
            Err(_) => Starting(Err(io::Error::other("the spawner thread is gone"))),
        }
    }
}

impl Spawner {
    /// The agent is freed but leaves `kept` running: the thread that
    /// started them looks after them until they exit, and is not waited
    /// for.
    pub(crate) fn leave_running(&mut self, kept: Vec<Kept>) {
        if let Some(jobs) = self.jobs.take() {
            let _ = jobs.send(Job::Keep(kept));
        }
        drop(self.thread.take()); // detached: it ends after the last node
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.jobs = None; // ends the thread's loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The text form of a program path, for messages.
pub(crate) fn display(path: &Path) -> String {
    String::from_utf8_lossy(path.as_os_str().as_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_program_path_is_made_absolute_against_the_current_directory() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            resolve_program("bin/zeek", None).unwrap(),
            cwd.join("bin/zeek")
        );
        assert_eq!(
            resolve_program("/opt/zeek/bin/zeek", None).unwrap(),
            PathBuf::from("/opt/zeek/bin/zeek")
        );
    }

    #[test]
    fn argv0_names_the_node_by_its_last_component() {
        assert!(argv0_names_node("/var/lib/zeek/nodes/w1/zeek.w1", "w1"));
        assert!(
            argv0_names_node("zeek.w1", "w1"),
            "as earlier versions named it"
        );
        assert!(!argv0_names_node("/var/lib/zeek/nodes/w1/zeek.w10", "w1"));
        assert!(!argv0_names_node("/nodes/zeek.w1/zeek", "w1"));
        assert!(!argv0_names_node("/usr/bin/zeek", "w1"));
        assert!(!argv0_names_node("", "w1"));
    }

    fn scratch_dir(name: &str) -> (PathBuf, OwnedFd) {
        let dir = std::env::temp_dir().join(format!("zma-spawn-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fd = OwnedFd::from(File::open(&dir).unwrap());
        (dir, fd)
    }

    #[test]
    fn the_program_link_is_made_replaced_when_wrong_and_left_alone_when_right() {
        use std::os::unix::fs::MetadataExt;
        let (dir, fd) = scratch_dir("link");
        let link = dir.join("zeek.w1");
        let ok = |target: &str| {
            assert!(link_in(fd.as_raw_fd(), "zeek.w1", Path::new(target)).is_ok());
            assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from(target));
        };
        ok("/opt/zeek/bin/zeek");
        let inode = std::fs::symlink_metadata(&link).unwrap().ino();
        ok("/opt/zeek/bin/zeek");
        assert_eq!(
            std::fs::symlink_metadata(&link).unwrap().ino(),
            inode,
            "a right link is not made again"
        );
        // A temporary link left by an interrupted attempt is no obstacle.
        std::os::unix::fs::symlink("/elsewhere", dir.join(LINK_TEMP)).unwrap();
        ok("/usr/local/zeek/bin/zeek");
        assert!(std::fs::symlink_metadata(dir.join(LINK_TEMP)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_or_directory_under_the_link_name_is_refused_and_kept() {
        let (dir, fd) = scratch_dir("not-a-link");
        std::fs::write(dir.join("zeek.w1"), "mine").unwrap();
        std::fs::create_dir(dir.join("zeek.w2")).unwrap();
        for name in ["zeek.w1", "zeek.w2"] {
            assert!(matches!(
                link_in(fd.as_raw_fd(), name, Path::new("/opt/zeek/bin/zeek")),
                Err(LinkError::NotALink)
            ));
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("zeek.w1")).unwrap(),
            "mine"
        );
        assert!(dir.join("zeek.w2").is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bare_name_is_found_on_path_and_made_absolute() {
        let found = resolve_program("sh", Some(OsString::from("/nonexistent:/bin"))).unwrap();
        assert_eq!(found, PathBuf::from("/bin/sh"));
        let err = resolve_program("no-such-program-zma", Some(OsString::from("/bin"))).unwrap_err();
        assert_eq!(err, "program 'no-such-program-zma' not found on PATH");
    }
}
