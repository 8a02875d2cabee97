//! The error type of the crate: every way a cost matrix can be malformed.

use std::path::PathBuf;

/// A `Result` whose error is a [`CostError`].
pub type Result<T, E = CostError> = std::result::Result<T, E>;

/// Why a cost matrix, a cost row or a cost file was rejected.
///
/// Each message is one self-contained line (no error here has a `source`,
/// so printing a chain never repeats it): what was found and what was
/// expected; [`CostError::File`]
/// adds the file name and [`CostError::Key`] / [`CostError::Line`] the place
/// inside it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CostError {
    /// Fewer than two classes: there is no mistake to cost.
    #[error("a cost matrix needs at least 2 classes, got {0}")]
    TooFewClasses(usize),
    /// More classes than [`crate::MAX_CLASSES`]: a dense matrix that large
    /// is refused before it is allocated.
    #[error("{found} classes, expected at most {limit} (the limit of a cost matrix)")]
    TooManyClasses {
        /// The count given.
        found: usize,
        /// [`crate::MAX_CLASSES`].
        limit: usize,
    },
    /// A row whose length differs from the number of rows.
    #[error("row {row} has {len} entries, expected {expected} (the matrix must be square)")]
    NotSquare {
        /// The row's index.
        row: usize,
        /// Its length.
        len: usize,
        /// The number of classes.
        expected: usize,
    },
    /// A NaN or infinite cost.
    #[error("entry [{row}][{col}] is {value}, expected a finite cost")]
    NonFinite {
        /// True class.
        row: usize,
        /// Predicted class.
        col: usize,
        /// The offending value.
        value: f64,
    },
    /// A negative cost.
    #[error("entry [{row}][{col}] is {value}, expected a cost >= 0")]
    Negative {
        /// True class.
        row: usize,
        /// Predicted class.
        col: usize,
        /// The offending value.
        value: f64,
    },
    /// A non-zero cost for a correct prediction.
    #[error("diagonal entry [{class}][{class}] is {value}, expected 0 (a correct prediction costs nothing)")]
    NonZeroDiagonal {
        /// The class.
        class: usize,
        /// The offending value.
        value: f64,
    },
    /// A class index at or beyond the number of classes.
    #[error("class {index} is out of range, expected an index below {n_classes}")]
    ClassOutOfRange {
        /// The index given.
        index: usize,
        /// The number of classes.
        n_classes: usize,
    },
    /// A class name that is not among the matrix's names.
    #[error("unknown class {name:?}, expected one of {known}")]
    UnknownClass {
        /// The name given.
        name: String,
        /// The known names, comma separated (or a note that none are known).
        known: String,
    },
    /// Class names whose count differs from the number of classes.
    #[error("{got} class names given, expected {expected}")]
    NameCount {
        /// Names given.
        got: usize,
        /// The number of classes.
        expected: usize,
    },
    /// The same class name twice.
    #[error("class name {0:?} appears twice, expected distinct names")]
    DuplicateName(String),
    /// A pairwise entry from a class to itself.
    #[error("pair {0} -> {0} is on the diagonal, expected two different classes")]
    DiagonalPair(usize),
    /// Nothing says how many classes there are.
    #[error(
        "the number of classes is unknown: give `classes` or `n_classes` in the file, or pass it on the command line"
    )]
    UnknownClassCount,
    /// Two sources disagree on the number of classes.
    #[error("the file describes {found} classes, expected {expected}")]
    ClassCountMismatch {
        /// What the file describes.
        found: usize,
        /// What the caller expects (e.g. the model's class count).
        expected: usize,
    },
    /// A problem at a key of a TOML file.
    #[error("key `{key}`: {message}")]
    Key {
        /// The dotted key, e.g. `seeds[1]`.
        key: String,
        /// What is wrong there.
        message: String,
    },
    /// A problem on a line of a text file.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        message: String,
    },
    /// A file extension other than `.toml` or `.csv`.
    #[error("unknown file type, expected a .toml or .csv file")]
    UnknownFormat,
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Io(std::io::Error),
    /// A file larger than [`crate::MAX_FILE_BYTES`], refused unparsed.
    #[error("the file is larger than {limit} bytes (the limit of a cost file)")]
    FileTooLarge {
        /// [`crate::MAX_FILE_BYTES`].
        limit: u64,
    },
    /// A file that is not UTF-8 text.
    #[error("the file is not UTF-8 text")]
    NotText,
    /// Any of the above, in a named file.
    #[error("{}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        error: Box<CostError>,
    },
}

impl CostError {
    /// Attaches a TOML key to an error about a value found there.
    pub(crate) fn at_key(self, key: impl Into<String>) -> CostError {
        CostError::Key { key: key.into(), message: self.to_string() }
    }
}
