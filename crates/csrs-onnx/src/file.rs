//! Opening the files a model names, which may be anything.

use std::fs::File;
use std::path::Path;

/// Opens `path` if it is a regular file, without waiting on it (a FIFO
/// would block the open until someone writes to it).
pub(crate) fn open_regular(path: &Path) -> Result<File, String> {
    let kind = |meta: &std::fs::Metadata| {
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(());
        }
        let what = if kind.is_dir() { "a folder" } else { "a FIFO, socket or device" };
        Err(format!("{what}, expected a regular file"))
    };
    kind(&std::fs::metadata(path).map_err(|err| format!("cannot read: {err}"))?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(|err| format!("cannot read: {err}"))?;
    // It may have been replaced since it was looked at.
    kind(&file.metadata().map_err(|err| format!("cannot read: {err}"))?)?;
    Ok(file)
}
