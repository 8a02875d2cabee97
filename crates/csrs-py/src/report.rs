//! `csrs.report`'s native half: records read back, the metrics table, the
//! paired comparison and the figures of `csrs analyze`, from the same
//! functions.

use std::path::{Path, PathBuf};

use csrs_artifacts::{CertificationFiles, Existing, Setting, check_output};
use csrs_records::{CertifyRow, Unfinished, read_rows};
use csrs_report::{FigureFormat, Run, TableFormat, comparison_table, draw, table};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::{self, Arguments};
use crate::smoothed::records;

fn unfinished(partial: bool) -> Unfinished {
    if partial { Unfinished::Read } else { Unfinished::Refuse }
}

/// The runs of `paths`, named by `labels` (one per file) or their stems.
fn runs(paths: &[PathBuf], labels: Option<&[String]>, partial: bool) -> anyhow::Result<Vec<Run>> {
    if let Some(labels) = labels.filter(|labels| labels.len() != paths.len()) {
        anyhow::bail!("labels: {} given, expected one per records file ({})", labels.len(), paths.len());
    }
    paths
        .iter()
        .enumerate()
        .map(|(index, path)| {
            let label = labels.map_or_else(|| stem(path), |labels| labels[index].clone());
            Run::read(path, label, unfinished(partial))
        })
        .collect()
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(String::new, |stem| stem.to_string_lossy().into_owned())
}

fn format(text: &str) -> PyResult<TableFormat> {
    text.parse().map_err(|err: String| pyo3::exceptions::PyValueError::new_err(format!("format: {err}")))
}

/// The certify records at `path` as dicts (the keys of a JSONL record),
/// read as `csrs analyze` reads them: records still being written or
/// unfinished are refused unless `partial`.
#[pyfunction]
#[pyo3(signature = (path, *, partial = false))]
fn read_records<'py>(py: Python<'py>, path: PathBuf, partial: bool) -> PyResult<Bound<'py, PyList>> {
    let rows = py.detach(|| read_rows::<CertifyRow>(&path, unfinished(partial))).map_err(convert::error)?;
    records(py, &rows)
}

/// The metrics table of `csrs analyze` for the records files `paths`.
#[pyfunction]
#[pyo3(signature = (paths, *, radii, format = "markdown", labels = None, partial = false))]
fn table_text(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    radii: Vec<f64>,
    format: &str,
    labels: Option<Vec<String>>,
    partial: bool,
) -> PyResult<String> {
    let format = self::format(format)?;
    py.detach(|| table(&runs(&paths, labels.as_deref(), partial)?, &radii, format, labels.is_some(), &Arguments))
        .map_err(convert::error)
}

/// `csrs analyze --compare`: each run against the first, paired.
#[pyfunction]
#[pyo3(signature = (paths, *, radii, format = "markdown", labels = None, partial = false))]
fn compare_text(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    radii: Vec<f64>,
    format: &str,
    labels: Option<Vec<String>>,
    partial: bool,
) -> PyResult<String> {
    let format = self::format(format)?;
    py.detach(|| comparison_table(&runs(&paths, labels.as_deref(), partial)?, &radii, format, &Arguments))
        .map_err(convert::error)
}

/// `csrs analyze --plot`: the figure of the runs, SVG or PNG by `out`'s
/// extension, written whole; an existing `out` is refused unless `force`,
/// and never one of the records' own files.
#[pyfunction]
#[pyo3(signature = (paths, out, *, labels = None, partial = false, force = false))]
fn plot(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    out: PathBuf,
    labels: Option<Vec<String>>,
    partial: bool,
    force: bool,
) -> PyResult<()> {
    py.detach(|| {
        let format = FigureFormat::of(&out, Setting::Out)?;
        let inputs: Vec<PathBuf> = paths.iter().flat_map(|path| CertificationFiles::new(path).outputs()).collect();
        check_output(&out, &inputs, Existing::from_force(force))?;
        draw(&out, format, &runs(&paths, labels.as_deref(), partial)?)
    })
    .map_err(convert::error)
}

/// Adds the report functions to the module.
pub(crate) fn add(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(read_records, module)?)?;
    module.add_function(wrap_pyfunction!(table_text, module)?)?;
    module.add_function(wrap_pyfunction!(compare_text, module)?)?;
    module.add_function(wrap_pyfunction!(plot, module)?)
}
