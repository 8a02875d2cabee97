//! Loading cost matrices from files and strings.

use std::path::Path;

use crate::{CostError, CostMatrix, Result, csv, toml_spec};

impl CostMatrix {
    /// Loads a `.toml` or `.csv` cost file.
    ///
    /// `expected_classes` is the class count the matrix must have (the
    /// model's or dataset's), when the caller knows it; it also supplies the
    /// count to files that name classes only by index.
    ///
    /// # Errors
    /// [`CostError::File`] wrapping what is wrong, with the path.
    pub fn load(path: impl AsRef<Path>, expected_classes: Option<usize>) -> Result<Self> {
        let path = path.as_ref();
        let in_file = |source: CostError| CostError::File { path: path.to_owned(), error: Box::new(source) };
        let text = std::fs::read_to_string(path).map_err(|err| in_file(CostError::Io(err)))?;
        let parsed = match path.extension().and_then(|ext| ext.to_str()) {
            Some("toml") => Self::from_toml_str(&text, expected_classes),
            Some("csv") => Self::from_csv_str(&text, expected_classes),
            _ => Err(CostError::UnknownFormat),
        };
        parsed.map_err(in_file)
    }

    /// Parses the TOML description of a cost matrix.
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
        toml_spec::parse(text, expected_classes)
    }

    /// Parses a cost matrix written as CSV.
    ///
    /// # Errors
    /// [`CostError::Line`] naming the line of a malformed cell, or the
    /// validation error of the matrix.
    pub fn from_csv_str(text: &str, expected_classes: Option<usize>) -> Result<Self> {
        csv::parse(text, expected_classes)
    }
}
