//! Values across the boundary: certificates and records as dicts, errors
//! as exceptions, and the one exception of the user's model kept aside
//! while Rust unwinds its own error.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use csrs_artifacts::{Setting, Spelling, spelled};
use csrs_records::{RadiusCell, cost_sensitive_radius, standard_radius};
use csrs_sampling::SamplingError;
use csrs_stats::{Certificate, HarmRadius};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Settings as the package spells them: its functions' arguments
/// (`out`, `shard=0/4`, `resume=True`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Arguments;

impl Spelling for Arguments {
    fn name(&self, setting: Setting) -> String {
        setting.key().to_owned()
    }

    fn given(&self, setting: Setting, value: &dyn fmt::Display) -> String {
        format!("{}={value}", setting.key())
    }

    fn on(&self, setting: Setting) -> String {
        format!("{}=True", setting.key())
    }
}

/// `err` as the exception Python code expects: `OSError` when a file
/// could not be read or written, else `ValueError`; the message is one
/// line (the error and its context, joined by `: `), settings named as
/// the package's arguments.
pub(crate) fn error(err: anyhow::Error) -> PyErr {
    let message = spelled(err.as_ref(), &Arguments, |_| None);
    if err.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some()) {
        PyOSError::new_err(message)
    } else {
        PyValueError::new_err(message)
    }
}

/// A radius as Python holds it: `None` when not certified, `inf` when
/// infinite.
fn harm_radius(radius: HarmRadius) -> Option<f64> {
    match radius {
        HarmRadius::NotCertified => None,
        HarmRadius::Certified(radius) => Some(radius.get()),
        HarmRadius::Infinite => Some(f64::INFINITY),
    }
}

/// The keys of `csrs certify-counts`' `result`: `predicted`, `abstain`,
/// `p_lower`, `radius_std` (`None` on abstain), `radius_cs` (`None` when
/// not certified, `inf` when infinite) and `certified_cost` (the curve of
/// `[level, radius]` pairs, `None` without a cost row), plus `draws` when
/// given.
pub(crate) fn certificate<'py>(
    py: Python<'py>,
    certificate: &Certificate,
    draws: Option<u64>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("predicted", certificate.predicted)?;
    dict.set_item("abstain", certificate.abstains())?;
    dict.set_item("p_lower", certificate.p_lower)?;
    dict.set_item("radius_std", standard_radius(certificate))?;
    let RadiusCell(radius) = cost_sensitive_radius(certificate);
    dict.set_item("radius_cs", harm_radius(radius))?;
    // `[level, radius]` pairs as lists, as records give them.
    let curve = match &certificate.cost_sensitive {
        Some(cs) => {
            let pairs = cs.levels().iter().map(|level| {
                let radius = harm_radius(level.radius).into_pyobject(py)?;
                PyList::new(py, [level.level.into_pyobject(py)?.into_any(), radius])
            });
            Some(PyList::new(py, pairs.collect::<PyResult<Vec<_>>>()?)?)
        }
        None => None,
    };
    dict.set_item("certified_cost", curve)?;
    if let Some(draws) = draws {
        dict.set_item("draws", draws)?;
    }
    Ok(dict)
}

/// A record (its JSONL object) as a dict: numbers, booleans, `None`, and
/// the radius `"inf"` as `inf`, as certificates are given.
pub(crate) fn record<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(value) => value.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(number) => match number.as_u64() {
            Some(whole) => whole.into_pyobject(py)?.into_any(),
            None => number.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(text) if text == "inf" => f64::INFINITY.into_pyobject(py)?.into_any(),
        Value::String(text) => text.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let items = items.iter().map(|item| record(py, item)).collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (key, value) in fields {
                dict.set_item(key, record(py, value)?)?;
            }
            dict.into_any()
        }
    })
}

/// Where a counter keeps the exception of the user's model (or of a
/// progress callback) while csrs's error unwinds the run; the run's error
/// is then that exception, raised as it was.
#[derive(Debug, Clone, Default)]
pub(crate) struct Failure(Arc<Mutex<Option<PyErr>>>);

impl Failure {
    /// Keeps `err`, and returns the error the counter gives csrs.
    pub(crate) fn keep(&self, err: PyErr) -> SamplingError {
        let message = err.to_string();
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
        SamplingError::Model(message)
    }

    /// An error when an exception is kept: a failed callback stops the run
    /// at the next forward pass.
    pub(crate) fn check(&self) -> Result<(), SamplingError> {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(err) => Err(SamplingError::Model(err.to_string())),
            None => Ok(()),
        }
    }

    /// The result of a run: an exception kept aside is raised as it was,
    /// even when the run went on to its end (a progress callback failing
    /// after the last input); else `result`'s error, converted.
    pub(crate) fn outcome<T>(&self, result: anyhow::Result<T>) -> PyResult<T> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        match (kept, result) {
            (Some(err), _) => Err(err),
            (None, Ok(value)) => Ok(value),
            (None, Err(err)) => Err(error(err)),
        }
    }
}
