//! Loading cost matrices from files and strings.

use std::io::Read;
use std::path::Path;

use crate::{CostError, CostMatrix, Result, csv, toml_spec};

/// The largest cost file read, in bytes: 1 GiB.
///
/// A file is read whole before it is parsed, so its size is memory. A dense
/// CSV of ImageNet-21k's 21 841 classes with one-digit costs is 0.95 GB;
/// the TOML kinds that describe a matrix without listing it (`standard`,
/// `seedwise`, `pairwise`) stay small at any class count.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// A byte-order mark, which spreadsheets write at the start of UTF-8 CSV.
const BOM: char = '\u{feff}';

/// The file's text, read up to [`MAX_FILE_BYTES`] (a pipe or a growing file
/// has no size to check beforehand).
fn read_text(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(CostError::Io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(CostError::Io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(CostError::FileTooLarge { limit: MAX_FILE_BYTES });
    }
    String::from_utf8(bytes).map_err(|_| CostError::NotText)
}

impl CostMatrix {
    /// Loads a `.toml` or `.csv` cost file.
    ///
    /// `expected_classes` is the class count the matrix must have (the
    /// model's or dataset's), when the caller knows it; it also supplies the
    /// count to files that name classes only by index.
    ///
    /// # Errors
    /// [`CostError::File`] wrapping what is wrong, with the path; a file
    /// larger than [`MAX_FILE_BYTES`] is refused unread.
    pub fn load(path: impl AsRef<Path>, expected_classes: Option<usize>) -> Result<Self> {
        let path = path.as_ref();
        let in_file = |source: CostError| CostError::File { path: path.to_owned(), error: Box::new(source) };
        let text = read_text(path).map_err(in_file)?;
        let parsed = match path.extension().and_then(|ext| ext.to_str()) {
            Some("toml") => Self::from_toml_str(&text, expected_classes),
            Some("csv") => Self::from_csv_str(&text, expected_classes),
            _ => Err(CostError::UnknownFormat),
        };
        parsed.map_err(in_file)
    }

    /// Parses the TOML description of a cost matrix (a leading byte-order
    /// mark is skipped).
    ///
    /// # Errors
    /// [`CostError::Key`] or [`CostError::Line`] naming the place of the problem.
    ///
    /// # Examples
    /// ```
    /// let c = csrs_cost::CostMatrix::from_toml_str(
    ///     r#"
    ///     kind = "pairwise"
    ///     classes = ["bird", "cat", "dog"]
    ///     pairs = [["cat", "dog"]]
    ///     "#,
    ///     None,
    /// )?;
    /// assert_eq!(c.sensitive_set(1), vec![2]);
    /// # Ok::<(), csrs_cost::CostError>(())
    /// ```
    pub fn from_toml_str(text: &str, expected_classes: Option<usize>) -> Result<Self> {
        toml_spec::parse(text.strip_prefix(BOM).unwrap_or(text), expected_classes)
    }

    /// Parses a cost matrix written as CSV (a leading byte-order mark, as
    /// spreadsheets write, is skipped).
    ///
    /// # Errors
    /// [`CostError::Line`] naming the line of a malformed cell, or the
    /// validation error of the matrix.
    pub fn from_csv_str(text: &str, expected_classes: Option<usize>) -> Result<Self> {
        csv::parse(text.strip_prefix(BOM).unwrap_or(text), expected_classes)
    }
}
