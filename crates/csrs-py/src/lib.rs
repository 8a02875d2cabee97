//! csrs from Python: the native module `csrs._csrs`, under the Python
//! package `csrs` (`python/csrs`).
//!
//! Everything that decides a certificate is csrs's own library code: the
//! counts come from the user's model through the two counters of
//! `csrs-sampling` that run models of other frameworks (`ClassifyCounter`:
//! csrs draws the noise, a Python callable classifies it; `SeededCounter`:
//! the model draws Gaussian noise on its device from the seed of each
//! block), and the statistics, rounds, records and reports are
//! `csrs-stats`, `csrs-sampling`, `csrs-run`, `csrs-records` and
//! `csrs-report`, exactly as the `csrs` command runs them.
//!
//! The interpreter is released while Rust works and taken again for each
//! call of the model; errors become `ValueError` (bad arguments) or
//! `OSError` (files) with the command's one-line messages, and an
//! exception of the user's model (a `KeyboardInterrupt` too) is raised
//! again as it was.

use csrs_cost::MAX_CLASSES;
use pyo3::prelude::*;

use crate::args::{Int, Length};

mod args;
mod convert;
mod cost;
mod counters;
mod dataset;
mod report;
mod smoothed;

/// `csrs.certify_counts`: Certify-CS on counts from anywhere, as
/// `csrs certify-counts` computes a line's `result`.
#[pyfunction]
#[pyo3(signature = (selection_counts, estimation_counts, *, label, cost_row=None, sigma, alpha))]
fn certify_counts<'py>(
    py: Python<'py>,
    selection_counts: &Bound<'py, PyAny>,
    estimation_counts: &Bound<'py, PyAny>,
    label: Int,
    cost_row: Option<&Bound<'py, PyAny>>,
    sigma: f64,
    alpha: f64,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let classes = Length::AtMost(MAX_CLASSES, "the limit of classes");
    let selection_counts = counts(selection_counts, "selection_counts", classes)?;
    let estimation_counts = counts(estimation_counts, "estimation_counts", classes)?;
    let cost_row = args::optional_floats(cost_row, "cost_row", classes)?;
    let label = label.get("label", 0..=MAX_CLASSES - 1, format_args!("a class index below {MAX_CLASSES}"))?;
    let case = csrs_records::CountsCase {
        label,
        cost_row: cost_row.as_deref(),
        sigma,
        alpha,
        selection_counts: &selection_counts,
        estimation_counts: &estimation_counts,
    };
    let certificate = py.detach(|| csrs_records::certify_case(&case)).map_err(convert::error)?;
    convert::certificate(py, &certificate, None)
}

/// Class counts given from Python: at most `length` of them, each 0 to
/// 2⁶⁴ − 1.
fn counts(value: &Bound<'_, PyAny>, name: &str, length: Length<'_>) -> PyResult<Vec<u64>> {
    args::sequence(value, name, length, |count, class| {
        let count: Int = count.extract()?;
        count.get(format_args!("{name}[{class}]"), 0..=u64::MAX, format_args!("a count from 0 to {}", u64::MAX))
    })
}

/// The native module.
#[pymodule]
fn _csrs(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_function(wrap_pyfunction!(certify_counts, module)?)?;
    module.add_function(wrap_pyfunction!(dataset::load_dataset, module)?)?;
    module.add_class::<cost::CostMatrix>()?;
    module.add_class::<smoothed::Smoothed>()?;
    report::add(module)
}
