//! The configuration an agent runs, saved in its state directory
//! (`<state_dir>/configuration.json`) for a later agent to adopt its nodes
//! with (`adopt_nodes`).
//!
//! An agent whose nodes may outlive it (`stop_nodes_on_free: false`)
//! writes the engine's current configuration there whenever it changes
//! (a deploy starts; standby removes the file), as plain JSON in the
//! `zeek7` dialect, through a temporary file and a rename, so a reader
//! never sees half of one. Every other agent removes the file once it
//! holds the state directory and adopted nothing (the nodes it names are
//! then stopped as leftovers, or never ran), or, if it adopted, once its
//! configuration changes: a stale file must not make a later agent adopt
//! processes of another configuration.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::model::Configuration;
use crate::wire::{decode_configuration, encode_configuration, Dialect, Encoding, Limits};

pub(crate) const CONFIGURATION_FILE: &str = "configuration.json";

fn path(state_dir: &str) -> PathBuf {
    Path::new(state_dir).join(CONFIGURATION_FILE)
}

/// The saved configuration: `Ok(None)` when there is none.
pub(crate) fn read(state_dir: &str, limits: &Limits) -> Result<Option<Configuration>, String> {
    let path = path(state_dir);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    decode_configuration(&text, limits)
        .map(Some)
        .map_err(|e| format!("cannot use {}: {e}", path.display()))
}

/// Saves `config` (mode 0600), or removes the saved one for `None`.
pub(crate) fn write(state_dir: &str, config: Option<&Configuration>) -> io::Result<()> {
    let path = path(state_dir);
    let Some(config) = config else {
        return remove(state_dir);
    };
    let text = encode_configuration(config, Encoding::Plain, Dialect::Zeek7);
    let temporary = path.with_extension("json.tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    drop(file);
    std::fs::rename(&temporary, &path)
}

/// Removes the saved configuration, if any.
pub(crate) fn remove(state_dir: &str) -> io::Result<()> {
    match std::fs::remove_file(path(state_dir)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
