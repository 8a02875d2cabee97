//! Writing a file whole or not at all.
//!
//! A file that csrs writes in one go (a checkpoint, a merged records file,
//! an exported model, a figure, a resolved configuration) is written to a
//! temporary file in the same folder, synced to the disk, and renamed over
//! its path. A rename within one file system is atomic, so a reader, a
//! crash, a kill or a full disk leaves either the old file or the new one,
//! never half of the new one under the final name. The temporary file is
//! removed when writing fails; a process killed mid-way leaves it behind
//! under a hidden name that says what it was (`.<name>.tmp-<pid>-<n>`).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A file being written under a temporary name; [`AtomicFile::commit`]
/// puts it in place, and dropping it uncommitted removes it.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    temporary: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `path` (creating its folder if needed); nothing at
    /// `path` changes until [`AtomicFile::commit`].
    ///
    /// # Errors
    /// When the folder or the temporary file cannot be created.
    pub fn create(path: &Path) -> io::Result<Self> {
        let folder = folder_of(path);
        std::fs::create_dir_all(&folder)?;
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a file name", path.display()))
        })?;
        /// Tells apart the temporary files of one process.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        loop {
            let mut temporary_name = std::ffi::OsString::from(".");
            temporary_name.push(name);
            temporary_name.push(format!(".tmp-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
            let temporary = folder.join(temporary_name);
            match OpenOptions::new().write(true).create_new(true).open(&temporary) {
                Ok(file) => {
                    return Ok(AtomicFile { path: path.to_owned(), temporary, file: Some(BufWriter::new(file)) });
                }
                // Left by a killed process whose id this one now has.
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// The path the file will have.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes what is written so far and syncs it to the disk, so that a
    /// full disk is known before anything else is done about the file.
    ///
    /// # Errors
    /// When a write or the sync fails.
    pub fn sync(&mut self) -> io::Result<()> {
        let file = self.file.as_mut().expect("an uncommitted file is open");
        file.flush()?;
        file.get_ref().sync_all()
    }

    /// Syncs the written bytes to the disk and renames the file into place
    /// (replacing what was there), then syncs the folder so the rename
    /// itself survives a crash.
    ///
    /// # Errors
    /// When a write, the sync or the rename fails (a full disk, most
    /// often); the temporary file is then removed and `path` is unchanged.
    pub fn commit(mut self) -> io::Result<()> {
        // Until the rename, an error drops `self` with its file open, and
        // dropping removes the temporary file.
        self.sync()?;
        std::fs::rename(&self.temporary, &self.path)?;
        self.file = None;
        // Some systems cannot open a folder to sync it; the data is safe
        // already, only the rename's durability is at stake.
        if let Ok(folder) = File::open(folder_of(&self.path)) {
            let _ = folder.sync_all();
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("an uncommitted file is open").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("an uncommitted file is open").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// Writes `bytes` to `path` through an [`AtomicFile`]: `path` then holds
/// either what it held before or all of `bytes`.
///
/// # Errors
/// As [`AtomicFile::create`] and [`AtomicFile::commit`].
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// The folder `path` is in (`.` for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_in(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_appears_only_when_committed_and_replaces_the_old_one_whole() {
        let dir = std::env::temp_dir().join(format!("csrs-artifacts-write-{}", std::process::id()));
        let path = dir.join("sub/out.txt");
        write_atomically(&path, b"old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"new and longer").unwrap();
        file.flush().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old", "not in place before the commit");
        file.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new and longer");
        assert_eq!(files_in(&dir.join("sub")), ["out.txt"], "no temporary file is left");

        let mut dropped = AtomicFile::create(&path).unwrap();
        dropped.write_all(b"abandoned").unwrap();
        drop(dropped);
        assert_eq!(std::fs::read(&path).unwrap(), b"new and longer");
        assert_eq!(files_in(&dir.join("sub")), ["out.txt"], "an abandoned file is removed");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
