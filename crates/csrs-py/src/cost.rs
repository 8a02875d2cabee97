//! `csrs.CostMatrix`: a cost matrix validated as the command validates
//! one, from a file or from an array.

use std::path::PathBuf;

use csrs_cost::{CostError, MAX_CLASSES};
use pyo3::exceptions::{PyIndexError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::args::{self, Int, Length};

/// Where a matrix came from: what a run's settings record of it.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// Read from this file (TOML or CSV).
    File(PathBuf),
    /// Given as rows.
    Rows,
}

/// The harm of each mistake: entry (y, k) is the cost of predicting class k
/// for an input of class y; zero on the diagonal, non-negative, finite.
///
/// `CostMatrix(array, names=None)` takes an m×m array (or nested lists);
/// `CostMatrix.load(path, num_classes=None)` reads a `.toml` or `.csv`
/// cost file as `csrs certify --cost` does.
#[pyclass(module = "csrs._csrs", name = "CostMatrix", frozen)]
#[derive(Debug)]
pub(crate) struct CostMatrix {
    pub(crate) matrix: csrs_cost::CostMatrix,
    pub(crate) origin: Origin,
}

/// A cost error as an exception: a file that cannot be read is an
/// `OSError`, anything else a `ValueError`.
pub(crate) fn cost_error(err: CostError) -> PyErr {
    let unreadable = matches!(&err, CostError::File { error, .. } if matches!(**error, CostError::Io(_)));
    if unreadable { PyOSError::new_err(err.to_string()) } else { PyValueError::new_err(err.to_string()) }
}

/// A number of classes given from Python (`num_classes`): 2 to
/// [`MAX_CLASSES`], as a cost matrix may have.
pub(crate) fn class_count(value: &Int) -> PyResult<usize> {
    value.get("num_classes", 2..=MAX_CLASSES, format_args!("2 to {MAX_CLASSES} classes"))
}

/// The rows of an m×m array (or nested lists), m checked against
/// [`MAX_CLASSES`] and each row's length against m before it is copied:
/// the copy is never larger than the largest matrix.
fn rows(array: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<f64>>> {
    let m = args::length(array, "array", Length::AtMost(MAX_CLASSES, "the limit of a cost matrix's classes"))?;
    args::sequence(array, "array", Length::Exactly(m, "one row per class"), |row, y| {
        args::floats(row, &format!("array[{y}]"), Length::Exactly(m, "a square matrix"))
    })
}

/// The class names of an m-class matrix, one per class.
fn names(names: &Bound<'_, PyAny>, m: usize) -> PyResult<Vec<String>> {
    args::sequence(names, "names", Length::Exactly(m, "one per class"), |name, index| {
        name.extract().map_err(|_| {
            PyTypeError::new_err(format!("names[{index}] is {}, expected a string", args::type_name(name)))
        })
    })
}

#[pymethods]
impl CostMatrix {
    #[new]
    #[pyo3(signature = (array, names = None))]
    fn new(array: &Bound<'_, PyAny>, names: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let matrix = csrs_cost::CostMatrix::from_rows(rows(array)?).map_err(cost_error)?;
        let matrix = match names {
            Some(names) => {
                let names = self::names(names, matrix.n_classes())?;
                matrix.with_names(names).map_err(cost_error)?
            }
            None => matrix,
        };
        Ok(CostMatrix { matrix, origin: Origin::Rows })
    }

    /// Reads a cost file (`.toml` or `.csv`); with `num_classes`, refuses
    /// a matrix of another size.
    #[staticmethod]
    #[pyo3(signature = (path, num_classes = None))]
    fn load(path: PathBuf, num_classes: Option<Int>) -> PyResult<Self> {
        let num_classes = num_classes.as_ref().map(class_count).transpose()?;
        let matrix = csrs_cost::CostMatrix::load(&path, num_classes).map_err(cost_error)?;
        Ok(CostMatrix { matrix, origin: Origin::File(path) })
    }

    /// Row `y`: the cost of each prediction for an input of class `y`.
    fn row(&self, y: Int) -> PyResult<Vec<f64>> {
        let y = self.class(y)?;
        Ok(self.matrix.row(y).costs().to_vec())
    }

    /// The classes whose prediction for an input of class `y` is harmful
    /// (cost above zero).
    fn sensitive_set(&self, y: Int) -> PyResult<Vec<usize>> {
        let y = self.class(y)?;
        Ok(self.matrix.sensitive_set(y))
    }

    /// The number of classes m.
    #[getter]
    fn num_classes(&self) -> usize {
        self.matrix.n_classes()
    }

    /// The class names, if the matrix has them.
    #[getter]
    fn names(&self) -> Option<Vec<String>> {
        self.matrix.names().map(<[String]>::to_vec)
    }

    /// Every row, as nested lists.
    fn tolist(&self) -> Vec<Vec<f64>> {
        self.matrix.rows().map(|row| row.costs().to_vec()).collect()
    }

    fn __len__(&self) -> usize {
        self.matrix.n_classes()
    }

    fn __repr__(&self) -> String {
        match &self.origin {
            Origin::File(path) => {
                format!("CostMatrix.load({:?}) ({} classes)", path.display(), self.matrix.n_classes())
            }
            Origin::Rows => format!("CostMatrix({:?})", self.tolist()),
        }
    }
}

impl CostMatrix {
    /// The class `y` given from Python: an `IndexError` when it is not
    /// one of the matrix's (negative included), as for a list.
    fn class(&self, y: Int) -> PyResult<usize> {
        let m = self.matrix.n_classes();
        y.within("y", &(0..=m - 1))?
            .ok_or_else(|| PyIndexError::new_err(format!("class {y} is out of range, expected a class below {m}")))
    }

    /// What a run's settings record of the matrix: its file, or its rows.
    pub(crate) fn setting(&self) -> toml::Value {
        match &self.origin {
            Origin::File(path) => toml::Value::String(path.display().to_string()),
            Origin::Rows => toml::Value::Array(
                self.tolist()
                    .into_iter()
                    .map(|row| toml::Value::Array(row.into_iter().map(toml::Value::Float).collect()))
                    .collect(),
            ),
        }
    }
}
