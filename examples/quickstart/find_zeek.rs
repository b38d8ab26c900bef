//! Finding an installed Zeek, for the quickstart and for the tests that run
//! real Zeek (`tests/real_zeek.rs` includes this file): `zeek` on `PATH`,
//! else `<prefix>/bin/zeek` of the `zeek-config` on `PATH`, else
//! `/opt/zeek/bin/zeek` (where Zeek's packages and source builds install by
//! default, usually not on `PATH`).

use std::path::{Path, PathBuf};

/// Where Zeek installs itself unless told otherwise.
pub const DEFAULT_ZEEK: &str = "/opt/zeek/bin/zeek";

/// What to install when [`find_zeek`] finds nothing, in one line.
pub const INSTALL_HINT: &str = "install Zeek (https://zeek.org/get-zeek/, e.g. a Zeek 8.0 package \
     into /opt/zeek), or put zeek or zeek-config on PATH";

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// The Zeek binary of the installation `zeek-config` describes.
fn from_zeek_config(zeek_config: &Path) -> Option<PathBuf> {
    let output = std::process::Command::new(zeek_config)
        .arg("--prefix")
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let prefix = String::from_utf8(output.stdout).ok()?;
    let zeek = Path::new(prefix.trim()).join("bin/zeek");
    is_executable(&zeek).then_some(zeek)
}

/// An installed Zeek, if there is one (see the module documentation).
pub fn find_zeek() -> Option<PathBuf> {
    on_path("zeek")
        .or_else(|| on_path("zeek-config").and_then(|c| from_zeek_config(&c)))
        .or_else(|| {
            let fallback = Path::new(DEFAULT_ZEEK);
            is_executable(fallback).then(|| fallback.to_path_buf())
        })
}
