//! A node's directory, made ready for a start: created (mode 0700)
//! unless it exists; a symbolic link there is refused, and everything
//! inside is opened relative to a descriptor of the directory opened
//! without following links, so the directory cannot be swapped between
//! check and use. It gets the cluster layout, fresh output files, the
//! program link, and the plan to exec the node. The process itself is
//! started by [`launch`](super::launch) on the spawner thread: it changes
//! into that descriptor with `fchdir`, joins a process group of its own,
//! gets a parent-death signal (so nodes never outlive the host process,
//! unless `stop_nodes_on_free` is false), is pinned to its CPU, and execs
//! the program directly (never a shell).
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

use std::ffi::CString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::layout::LAYOUT_FILE;
use super::program::{absolute, display};
use crate::engine::MANAGEMENT_NODE_SCRIPT;
use crate::model::NodeConfig;

/// Files a node directory holds.
pub(crate) const STDOUT_FILE: &str = "stdout";
pub(crate) const STDERR_FILE: &str = "stderr";
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
    pub(super) program: PathBuf,
    /// What is exec'd, relative to the node directory: `./zeek.<node>`.
    pub(super) path: PathBuf,
    pub(super) argv0: String,
    pub(super) args: Vec<String>,
    pub(super) env: Vec<(String, String)>,
    pub(super) dir: Arc<OwnedFd>,
    pub(super) cpu: Option<usize>,
    pub(super) stop_nodes_on_free: bool,
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

fn mkdir(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// How [`open_in`] treats what a file already holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Existing {
    Truncate,
    Keep,
}

/// Opens `name` inside the directory `dir` for reading and writing, mode
/// 0600, without following a link and without blocking on a FIFO; refuses
/// anything but a regular file.
pub(super) fn open_in(dir: RawFd, name: &str, existing: Existing) -> io::Result<File> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
