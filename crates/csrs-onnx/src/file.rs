//! Opening the files a model names, which may be anything.

use std::fs::{File, Metadata};
use std::path::Path;

/// Opens `path`, a canonical path (no link in it), if it is a regular
/// file: without waiting on it (a FIFO would block the open until someone
/// writes to it), without following a link put in its place since it was
/// resolved, and only if what was opened is what was looked at. Returns
/// the file and its length, as the open file has it.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64), String> {
    let cannot = |err: std::io::Error| format!("cannot read: {err}");
    let seen = std::fs::symlink_metadata(path).map_err(cannot)?;
    regular(&seen)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK | libc::O_NOFOLLOW);
    let file = options.open(path).map_err(cannot)?;
    let opened = file.metadata().map_err(cannot)?;
    regular(&opened)?;
    if !same_file(&seen, &opened) {
        return Err("replaced while it was opened".into());
    }
    Ok((file, opened.len()))
}

fn regular(meta: &Metadata) -> Result<(), String> {
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    let what = if kind.is_dir() { "a folder" } else { "a FIFO, socket or device" };
    Err(format!("{what}, expected a regular file"))
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}
