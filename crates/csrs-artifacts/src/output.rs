//! The overwrite rule: a command never writes over a file the user has
//! unless told to (`--force`), and never over one of its own inputs.
//!
//! Inputs are compared with outputs as files, not as spellings: two paths
//! name the same file when they reach the same device and inode, which
//! sees through symbolic links, hard links, `..` and relative paths.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::{Keys, Setting, Spelling};

/// What a command does with an output file that exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Stop before any work, naming the file (the default).
    Refuse,
    /// Replace it, whole, once the new content is ready (`--force`).
    Replace,
}

impl Existing {
    /// `Replace` when the user passed `--force`.
    pub fn from_force(force: bool) -> Self {
        if force { Existing::Replace } else { Existing::Refuse }
    }
}

/// Why an output may not be written.
#[derive(Debug)]
pub enum OutputError {
    /// The output exists and the command was not told to replace it.
    Exists {
        /// The output.
        path: PathBuf,
    },
    /// The output is one of the command's inputs.
    IsInput {
        /// The output, as given.
        output: PathBuf,
        /// The input it is, as given.
        input: PathBuf,
    },
    /// The output's state could not be read.
    Io {
        /// The output.
        path: PathBuf,
        /// What the system said.
        error: io::Error,
    },
}

impl OutputError {
    /// The message, with the setting that replaces outputs spelled by
    /// `spelling`.
    pub fn text(&self, spelling: &dyn Spelling) -> String {
        match self {
            OutputError::Exists { path } => format!(
                "{} already exists: pass {} to replace it, or choose another output",
                path.display(),
                spelling.on(Setting::Force)
            ),
            OutputError::IsInput { output, input } if output == input => {
                format!("the output {} is also an input: choose another output", output.display())
            }
            OutputError::IsInput { output, input } => format!(
                "the output {} is the input {} (the same file): choose another output",
                output.display(),
                input.display()
            ),
            OutputError::Io { path, error } => format!("cannot read {}: {error}", path.display()),
        }
    }
}

/// The message with settings by their keys ([`Keys`]).
impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(&Keys))
    }
}

/// The system's error is part of the message, which stays one line.
impl std::error::Error for OutputError {}

/// Checks, before any work, that `output` may be written by a command
/// reading `inputs`: it must not be any of them (even with
/// [`Existing::Replace`]), and must not exist unless `existing` says to
/// replace it.
///
/// # Errors
/// [`OutputError`] naming the output.
pub fn check_output<P: AsRef<Path>>(output: &Path, inputs: &[P], existing: Existing) -> Result<(), OutputError> {
    match std::fs::metadata(output) {
        Ok(_) => {}
        // Nothing there, or a file where a folder should be: writing will
        // say so, naming the output.
        Err(error) if matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
            return Ok(());
        }
        Err(error) => return Err(OutputError::Io { path: output.to_owned(), error }),
    }
    if let Some(input) = inputs.iter().map(AsRef::as_ref).find(|input| same_file(output, input)) {
        return Err(OutputError::IsInput { output: output.to_owned(), input: input.to_owned() });
    }
    match existing {
        Existing::Refuse => Err(OutputError::Exists { path: output.to_owned() }),
        Existing::Replace => Ok(()),
    }
}

/// Whether `a` and `b` are one file: the same device and inode.
#[cfg(unix)]
pub fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::metadata(a), std::fs::metadata(b)), (Ok(a), Ok(b)) if same_inode(&a, &b))
}

/// Whether `a` and `b` are one file: the same path once links and `..`
/// are resolved (hard links are not seen without inode numbers).
#[cfg(not(unix))]
pub fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// Whether the open `file` is still the file at `path`: a file renamed
/// over it (a merge putting its records in place) is another one.
#[cfg(unix)]
pub fn is_open_at(file: &std::fs::File, path: &Path) -> bool {
    matches!((file.metadata(), std::fs::metadata(path)), (Ok(open), Ok(there)) if same_inode(&open, &there))
}

/// Whether the open `file` is still the file at `path` (without inode
/// numbers, only whether there is one).
#[cfg(not(unix))]
pub fn is_open_at(_: &std::fs::File, path: &Path) -> bool {
    path.exists()
}

#[cfg(unix)]
fn same_inode(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// Removes the file at `path` if there is one.
///
/// # Errors
/// Any error but the file's absence.
pub fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_refused_when_they_exist_or_are_an_input() {
        let dir = std::env::temp_dir().join(format!("csrs-artifacts-output-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let (input, other, new) = (dir.join("in.mpk"), dir.join("other.mpk"), dir.join("new.mpk"));
        std::fs::write(&input, b"weights").unwrap();
        std::fs::write(&other, b"weights").unwrap();
        let inputs = [&input];

        assert!(check_output(&new, &inputs, Existing::Refuse).is_ok());
        let exists = check_output(&other, &inputs, Existing::Refuse).unwrap_err().to_string();
        assert!(
            exists.ends_with("other.mpk already exists: pass force = true to replace it, or choose another output")
        );
        assert!(check_output(&other, &inputs, Existing::Replace).is_ok());

        // The input under another spelling, even with --force.
        let spelled = dir.join("sub/../in.mpk");
        let err = check_output(&spelled, &inputs, Existing::Replace).unwrap_err().to_string();
        assert!(err.contains("is the input") && err.contains("in.mpk (the same file)"), "{err}");
        #[cfg(unix)]
        {
            let link = dir.join("link.mpk");
            std::os::unix::fs::symlink(&input, &link).unwrap();
            assert!(matches!(check_output(&link, &inputs, Existing::Replace), Err(OutputError::IsInput { .. })));
            let hard = dir.join("hard.mpk");
            std::fs::hard_link(&input, &hard).unwrap();
            assert!(matches!(check_output(&hard, &inputs, Existing::Replace), Err(OutputError::IsInput { .. })));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
