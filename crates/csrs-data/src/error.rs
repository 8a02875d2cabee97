//! The error type of the crate: missing, unreadable and corrupt data.

use std::path::PathBuf;

/// A `Result` whose error is a [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Why a dataset could not be loaded. Every message names the file and,
/// for corrupt files, the byte offset or line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or folder could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// A binary file whose content is not what its format requires.
    #[error("{}: at byte {offset}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the problem starts.
        offset: u64,
        /// What was found and what was expected.
        message: String,
    },
    /// A text file with a malformed line.
    #[error("{}: line {line}: {message}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was found and what was expected.
        message: String,
    },
    /// A file larger than [`crate::MAX_FILE_BYTES`], as it is or
    /// decompressed, refused before more than that is read.
    #[error("{}: larger than {limit} bytes (decompressed), the limit of a dataset file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// An image file that could not be decoded.
    #[error("{}: cannot decode the image: {message}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A dataset that needs a folder was given none.
    #[error("dataset {dataset} is read from a folder: pass its location as data_dir")]
    NoDataDir {
        /// The dataset's name.
        dataset: &'static str,
    },
    /// A folder with no usable content.
    #[error("{}: {message}", path.display())]
    Empty {
        /// The folder or file.
        path: PathBuf,
        /// What was expected there.
        message: String,
    },
    /// A dataset name that is not known.
    #[error("unknown dataset {0:?}, expected one of {names}", names = crate::DatasetName::ALL.map(|d| d.as_str()).join(", "))]
    UnknownDataset(String),
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        DataError::Io { path: path.into(), error }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, offset: u64, message: impl Into<String>) -> Self {
        DataError::Corrupt { path: path.into(), offset, message: message.into() }
    }
}
