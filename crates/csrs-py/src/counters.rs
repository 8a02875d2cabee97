//! The user's model behind csrs's two counters of other frameworks' models:
//! a callable classifying the noisy copies csrs draws, and an object
//! drawing its own noise from each block's seed (`csrs.torch`). Each call
//! takes the interpreter, checks for Ctrl-C first, and hands NumPy arrays
//! in and checked integer arrays back.

use csrs_sampling::{Classify, CountSeeded, SamplingError, SeededBatch};
use numpy::{IntoPyArray, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::convert::Failure;

/// A callable from a float32 array `(B, *shape)` of noisy inputs to `B`
/// integer classes.
#[derive(Debug)]
pub(crate) struct PyClassify {
    pub(crate) classify: Py<PyAny>,
    /// The shape of one input.
    pub(crate) shape: Vec<usize>,
    pub(crate) failure: Failure,
}

impl Classify for PyClassify {
    fn classify(&mut self, inputs: Vec<f32>, count: usize) -> Result<Vec<usize>, SamplingError> {
        self.failure.check()?;
        Python::attach(|py| {
            py.check_signals()?;
            let shape: Vec<usize> = std::iter::once(count).chain(self.shape.iter().copied()).collect();
            let batch = inputs.into_pyarray(py).reshape(shape)?;
            let classes = self.classify.bind(py).call1((batch,))?;
            let classes = integers(py, &classes, &[count], "classify")?;
            classes.into_iter().map(|class| class_index(class, "classify")).collect::<PyResult<Vec<_>>>()
        })
        .map_err(|err| self.failure.keep(err))
    }
}

/// An object with `count_blocks(inputs, owners, seeds, sizes, sigma)`,
/// returning one row of class counts per block, and `base_class(input)`.
#[derive(Debug)]
pub(crate) struct PySeeded {
    pub(crate) model: Py<PyAny>,
    pub(crate) shape: Vec<usize>,
    pub(crate) n_classes: usize,
    pub(crate) failure: Failure,
}

impl CountSeeded for PySeeded {
    fn count_blocks(&mut self, batch: &SeededBatch<'_>) -> Result<Vec<Vec<u64>>, SamplingError> {
        self.failure.check()?;
        Python::attach(|py| {
            py.check_signals()?;
            let shape: Vec<usize> = std::iter::once(batch.inputs.len()).chain(self.shape.iter().copied()).collect();
            let inputs = batch.inputs.concat().into_pyarray(py).reshape(shape)?;
            let owners: Vec<i64> = batch.blocks.iter().map(|block| block.input as i64).collect();
            let seeds: Vec<u64> = batch.blocks.iter().map(|block| block.seed).collect();
            let sizes: Vec<i64> = batch.blocks.iter().map(|block| block.size as i64).collect();
            let counts = self.model.bind(py).call_method1(
                "count_blocks",
                (inputs, owners.into_pyarray(py), seeds.into_pyarray(py), sizes.into_pyarray(py), batch.sigma.get()),
            )?;
            let blocks = batch.blocks.len();
            let counts = integers(py, &counts, &[blocks, self.n_classes], "count_blocks")?;
            if let Some(negative) = counts.iter().find(|&&count| count < 0) {
                return Err(PyValueError::new_err(format!(
                    "count_blocks returned the count {negative}, expected counts >= 0"
                )));
            }
            Ok(counts
                .chunks(self.n_classes.max(1))
                .map(|row| row.iter().map(|&count| count as u64).collect())
                .collect())
        })
        .map_err(|err| self.failure.keep(err))
    }

    fn base_class(&mut self, input: &[f32]) -> Result<usize, SamplingError> {
        self.failure.check()?;
        Python::attach(|py| {
            let shape: Vec<usize> = std::iter::once(1).chain(self.shape.iter().copied()).collect();
            let input = input.to_vec().into_pyarray(py).reshape(shape)?;
            let class: i64 = self.model.bind(py).call_method1("base_class", (input,))?.extract()?;
            class_index(class, "base_class")
        })
        .map_err(|err| self.failure.keep(err))
    }
}

/// `value` as an integer array of `shape`, flattened: a NumPy array (or
/// anything `numpy.asarray` takes, a CPU tensor or a list) of integers.
/// `what` names the callable in errors.
fn integers(py: Python<'_>, value: &Bound<'_, PyAny>, shape: &[usize], what: &str) -> PyResult<Vec<i64>> {
    let numpy = py.import("numpy")?;
    let array = numpy.call_method1("asarray", (value,))?.cast_into::<PyUntypedArray>()?;
    let kind = array.dtype().kind();
    let expected = shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let comma = if shape.len() == 1 { "," } else { "" };
    if kind != b'i' && kind != b'u' {
        let hint = if shape.len() == 1 { "; for logits, return logits.argmax(1)" } else { "" };
        return Err(PyTypeError::new_err(format!(
            "{what} returned {} values, expected integers of shape ({expected}{comma}){hint}",
            array.dtype().str()?
        )));
    }
    // The shape before the conversion: nothing but the expected is copied.
    if array.shape() != shape {
        return Err(PyValueError::new_err(format!(
            "{what} returned an array of shape {:?}, expected ({expected}{comma})",
            array.shape()
        )));
    }
    let array = array.call_method1("astype", (numpy.getattr("int64")?,))?.cast_into::<numpy::PyArrayDyn<i64>>()?;
    Ok(array.readonly().as_array().iter().copied().collect())
}

/// A class returned by `what`, which must not be negative (the counter
/// checks it against the number of classes).
fn class_index(class: i64, what: &str) -> PyResult<usize> {
    usize::try_from(class)
        .map_err(|_| PyValueError::new_err(format!("{what} returned class {class}, expected a class >= 0")))
}
