//! The program nodes run: found once, when the supervisor is made (a
//! bare name on `PATH`, a path made absolute), and Zeek's own script
//! directories for `ZEEKPATH`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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
pub(super) fn absolute(path: &Path) -> Result<PathBuf, String> {
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
    fn a_bare_name_is_found_on_path_and_made_absolute() {
        let found = resolve_program("sh", Some(OsString::from("/nonexistent:/bin"))).unwrap();
        assert_eq!(found, PathBuf::from("/bin/sh"));
        let err = resolve_program("no-such-program-zma", Some(OsString::from("/bin"))).unwrap_err();
        assert_eq!(err, "program 'no-such-program-zma' not found on PATH");
    }
}
