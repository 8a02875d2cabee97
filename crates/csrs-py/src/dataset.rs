//! `csrs.load_dataset`: the datasets `csrs train` and `csrs certify` read,
//! split as they split them, as NumPy arrays.

use std::path::PathBuf;

use csrs_data::{DataError, Dataset, DatasetName, Split};
use numpy::{PyArray1, PyArray4, PyArrayMethods};
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::args;

/// The images decoded with the interpreter released between two checks
/// for Ctrl-C (datasets read from image files decode each image here).
const CHUNK: usize = 256;

/// A string argument, or a `TypeError` naming it.
fn text(value: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    value
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{name} is {}, expected a string", args::type_name(value))))
}

/// `name` as a dataset, refused in the command's words.
fn dataset_name(name: &Bound<'_, PyAny>) -> PyResult<DatasetName> {
    let name = text(name, "name")?;
    args::shown(&name).parse().map_err(|err: DataError| PyValueError::new_err(format!("name: {err}")))
}

/// `split`: `"train"` or `"test"`.
fn split(split: &Bound<'_, PyAny>) -> PyResult<Split> {
    match text(split, "split")?.as_str() {
        "train" => Ok(Split::Train),
        "test" => Ok(Split::Test),
        other => {
            Err(PyValueError::new_err(format!("split: unknown split {:?}, expected train or test", args::shown(other))))
        }
    }
}

/// `data_dir`: a path (`str` or `os.PathLike`), or `None`.
fn data_dir(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PathBuf>> {
    let value = value.filter(|value| !value.is_none());
    value
        .map(|value| {
            value.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "data_dir is {}, expected a path (str or os.PathLike) or None",
                    args::type_name(value)
                ))
            })
        })
        .transpose()
}

/// A dataset's error as an exception: files that are missing or cannot be
/// read are an `OSError`, a dataset that needs a folder and was given none
/// or files whose content is corrupt a `ValueError`; the message names the
/// file.
fn data_error(err: DataError) -> PyErr {
    match err {
        DataError::NoDataDir { dataset } => PyValueError::new_err(format!(
            "data_dir None, expected the folder of {dataset} (only digits and mnist-5k are built in)"
        )),
        err @ (DataError::Io { .. } | DataError::Empty { .. }) => PyOSError::new_err(err.to_string()),
        err => PyValueError::new_err(err.to_string()),
    }
}

/// The images of `dataset`, C×H×W each, into `pixels` (one after the
/// other), from example `start` on.
fn copy_images(dataset: &Dataset, start: usize, pixels: &mut [f32]) -> Result<(), DataError> {
    let size = dataset.shape().len();
    for (offset, image) in pixels.chunks_exact_mut(size).enumerate() {
        image.copy_from_slice(&dataset.image(start + offset)?);
    }
    Ok(())
}

/// A split as NumPy arrays: the images and the labels.
type Arrays<'py> = (Bound<'py, PyArray4<f32>>, Bound<'py, PyArray1<i64>>);

/// `csrs.load_dataset(name, split, data_dir=None)`: the images (float32,
/// N×C×H×W, pixels in [0, 1]) and labels (int64, N) of a split, exactly as
/// `csrs train` and `csrs certify` read it. digits and mnist-5k are built
/// in (their test splits seeded and stratified, the same everywhere); the
/// others are read from `data_dir`.
#[pyfunction]
#[pyo3(signature = (name, split, data_dir = None))]
pub(crate) fn load_dataset<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyAny>,
    split: &Bound<'py, PyAny>,
    data_dir: Option<&Bound<'py, PyAny>>,
) -> PyResult<Arrays<'py>> {
    let (name, split, data_dir) = (dataset_name(name)?, self::split(split)?, self::data_dir(data_dir)?);
    let dataset = py.detach(|| csrs_data::load(name, split, data_dir.as_deref())).map_err(data_error)?;
    let shape = dataset.shape();
    let dims = (dataset.len(), shape.channels, shape.height, shape.width);
    // Allocated by NumPy, so that a split too large for memory is its
    // `MemoryError`, not an abort.
    let images = py.import("numpy")?.call_method1("zeros", (dims, "float32"))?.cast_into::<PyArray4<f32>>()?;
    {
        let mut images = images.readwrite();
        let pixels = images.as_slice_mut()?;
        let size = shape.len().max(1);
        for (chunk, pixels) in pixels.chunks_mut(CHUNK * size).enumerate() {
            py.detach(|| copy_images(&dataset, chunk * CHUNK, pixels)).map_err(data_error)?;
            py.check_signals()?;
        }
    }
    let labels = dataset.labels().iter().map(|&label| label as i64);
    Ok((images, PyArray1::from_iter(py, labels)))
}
