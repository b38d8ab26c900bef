//! Fault-injection helpers: leak accounting (descriptors, threads, child
//! processes, node processes), re-running a case in a child process
//! (to drop root or set resource limits there), and privilege dropping.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Set in a child process: names the case it runs.
pub const CHILD: &str = "ZMA_FAULT_CHILD";

/// The uid and gid an unprivileged child runs as.
pub const NOBODY: u32 = 65534;

/// Every case holds this: descriptors, threads and children are counted
/// per process, so no two cases may run at once.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A node name unique to this test process (concurrent runs of the suite
/// elsewhere on the machine use other names).
pub fn node(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// The comm of the calling thread (the test harness names it after the
/// test, cut at 15 bytes).
fn my_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

/// What a case may leak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    /// `fd -> target` of every open descriptor.
    pub fds: Vec<String>,
    /// The library's threads and any thread started from this test's
    /// thread (an unnamed thread inherits its creator's comm); other
    /// tests' harness threads come and go and are not counted.
    pub threads: Vec<String>,
}

pub fn usage() -> Usage {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .map(|e| {
            let target = std::fs::read_link(e.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            format!("{}->{target}", e.file_name().to_string_lossy())
        })
        .collect();
    fds.sort();
    let mine = my_comm();
    let mut threads: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            let comm = comm.trim_end().to_owned();
            let counted = comm == "zeek-mgmt-agent" || comm == "zma-spawner" || comm == mine;
            counted.then_some(comm)
        })
        .collect();
    threads.sort();
    Usage { fds, threads }
}

/// Child processes of this process (zombies included): `pid comm state`.
pub fn children() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        if fields.get(1) == Some(&me.as_str()) {
            let comm = &stat[stat.find('(').unwrap_or(0) + 1..close];
            found.push(format!(
                "{} {comm} {}",
                entry.file_name().to_string_lossy(),
                fields[0]
            ));
        }
    }
    found
}

/// Live (non-zombie) processes anywhere whose argv[0] names one of `nodes`
/// (its last component is `zeek.<node>`, as the process supervisor starts
/// them: `<node dir>/zeek.<node>`).
pub fn node_processes(nodes: &[String]) -> Vec<String> {
    let names: Vec<String> = nodes.iter().map(|n| format!("zeek.{n}")).collect();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let argv0 =
            String::from_utf8_lossy(cmdline.split(|b| *b == 0).next().unwrap_or(&[])).into_owned();
        let last = argv0.rsplit('/').next().unwrap_or_default().to_owned();
        if names.contains(&last) && crate::process_support::alive(pid) {
            found.push(format!("{pid} {argv0}"));
        }
    }
    found
}

/// What leaked since `before`, once things had up to 5 s to settle
/// (a joined thread can linger in /proc for a moment); empty when nothing.
pub fn leaks(before: &Usage, nodes: &[String]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = usage();
        let kids = children();
        let survivors = node_processes(nodes);
        let fine = now.fds.len() <= before.fds.len()
            && now.threads.len() <= before.threads.len()
            && kids.is_empty()
            && survivors.is_empty();
        if fine || Instant::now() >= deadline {
            let mut found = Vec::new();
            if now.fds.len() > before.fds.len() {
                found.push(format!("descriptors {:?} -> {:?}", before.fds, now.fds));
            }
            if now.threads.len() > before.threads.len() {
                found.push(format!("threads {:?} -> {:?}", before.threads, now.threads));
            }
            if !kids.is_empty() {
                found.push(format!("child processes {kids:?}"));
            }
            if !survivors.is_empty() {
                found.push(format!("node processes {survivors:?}"));
            }
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `body` as one case: serialized, and asserting afterwards that no
/// descriptor, thread, child process or process of `nodes` is left.
pub fn case(nodes: &[String], body: impl FnOnce()) {
    let _serial = serial();
    let before = usage();
    body();
    let leaked = leaks(&before, nodes);
    assert!(leaked.is_empty(), "leaked: {leaked:#?}");
}

/// Runs this test binary again for one test, with `CHILD=<case>`; returns
/// the JSON the child printed on its `OUTCOME ` line (and its output, for
/// messages).
pub fn run_child(test: &str, case: &str) -> (Value, String) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, case)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let all = format!(
        "status {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(output.status.success(), "the child failed: {all}");
    let outcome = stdout
        .lines()
        .find_map(|l| l.split_once("OUTCOME ").map(|(_, json)| json))
        .unwrap_or_else(|| panic!("no outcome from the child: {all}"));
    (serde_json::from_str(outcome).unwrap(), all)
}

/// In a child: which case to run, if this process is one.
pub fn child_case() -> Option<String> {
    std::env::var(CHILD).ok()
}

/// In a child: prints the outcome for the parent.
pub fn report(outcome: &Value) {
    println!("\nOUTCOME {outcome}");
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Hands `path` to the unprivileged user (as root; a no-op otherwise).
pub fn give_to_nobody(path: &Path) {
    if is_root() {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
}

/// In a child running as root: becomes `nobody` for good (no groups, no
/// capabilities). Returns the uid it runs as afterwards.
pub fn drop_root() -> u32 {
    if is_root() {
        // SAFETY: plain credential calls of this (child) process; glibc
        // applies them to every thread.
        unsafe {
            assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
            assert_eq!(libc::setgid(NOBODY), 0);
            assert_eq!(libc::setuid(NOBODY), 0);
            // A change of credentials makes /proc/self root's; get it back
            // so that the leak accounting can read it.
            libc::prctl(libc::PR_SET_DUMPABLE, 1);
        }
    }
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }
}

/// Sets the soft limit of a resource (the hard one stays).
pub fn set_soft_limit(resource: libc::__rlimit_resource_t, soft: u64) {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(resource, &mut limit), 0);
        limit.rlim_cur = soft.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(resource, &limit), 0);
    }
}

/// Restores the soft limit of a resource to its hard limit.
pub fn restore_limit(resource: libc::__rlimit_resource_t) {
    set_soft_limit(resource, u64::MAX);
}

/// CPU time (user + system) a thread of this process has used, in ms.
pub fn thread_cpu_ms(tid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    ticks * 1000 / hz
}

/// The tid of this process's thread named `comm`.
pub fn thread_named(comm: &str) -> Option<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .find(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == comm)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
}

/// A scratch directory for one case (removed first if left over).
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zma-fault-{name}-{}", std::process::id()));
    if dir.exists() {
        make_writable(&dir);
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Makes a tree writable again (for removal).
pub fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&entry.path());
            }
        }
    }
}

/// Writes an executable script.
pub fn script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
