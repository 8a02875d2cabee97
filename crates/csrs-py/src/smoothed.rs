//! `csrs.Smoothed`: the smoothed classifier of the user's model, with
//! csrs's certify, predict and dataset runs. Each call builds the counter
//! for its input's shape and runs with the interpreter released.

use std::path::PathBuf;

use csrs_artifacts::Spelling;
use csrs_cost::CostRow;
use csrs_data::{Dataset, ImageShape};
use csrs_records::{CertifyRow, MAX_INTEGER, Row, RunIdentity, Settings};
use csrs_run::{
    Certify, DrawCount, MAX_BATCH, MAX_BATCH_BYTES, MAX_DRAWS, Observer, RunSettings, Shard, check_batch,
    note_grid_distance,
};
use csrs_sampling::{BLOCK, ClassCounter, ClassifyCounter, NoiseKind, NoiseStream, Rounds, SeededCounter, StopRule};
use csrs_stats::{Alpha, Prediction, Sigma, Smoothing};
use numpy::{AllowTypeChange, PyArrayLikeDyn};
use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use serde::Serialize;

use crate::args::{self, Int, Length};
use crate::convert::{self, Failure};
use crate::cost::{CostMatrix, class_count, cost_error};
use crate::counters::{PyClassify, PySeeded};

/// How the user's model gives csrs its counts.
#[derive(Debug)]
enum Model {
    /// A callable classifying the noisy copies csrs draws.
    Classify(Py<PyAny>),
    /// An object drawing its own noise from the blocks' seeds.
    Seeded(Py<PyAny>),
}

/// The smoothed classifier g(x) = argmax_k P(f(x + δ) = k) of a base
/// classifier f, δ ~ N(0, σ²I).
///
/// `Smoothed(classify, *, num_classes, sigma, noise="gaussian", seed=0,
/// name=None)`: `classify` maps a float32 array (B, *input_shape) of noisy
/// inputs to B integer classes. csrs draws the noise, from counter-based
/// streams keyed by (seed, example, phase, block), so a result depends on
/// the seed and the example alone, not on the batch size. `noise="sound"`
/// rounds inputs and noise to the 8-bit grid and widens every bound by the
/// drawn noise's distance from the exact one, so certificates hold as
/// computed (inputs in [0, 1]). `name` names the model in a run's settings
/// (default: the callable's name).
#[pyclass(module = "csrs._csrs", name = "Smoothed", frozen, subclass)]
#[derive(Debug)]
pub(crate) struct Smoothed {
    model: Model,
    num_classes: usize,
    sigma: Sigma,
    noise: NoiseKind,
    seed: u64,
    name: String,
}

/// A run's settings as `<records>.config.toml` holds them: the command's
/// option names where the option means the same.
#[derive(Debug, Serialize)]
struct RunOptions {
    model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<toml::Value>,
    sigma: f64,
    noise: NoiseKind,
    n0: u64,
    n: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_radius: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    radius_tolerance: Option<f64>,
    alpha: f64,
    batch: usize,
    skip: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<usize>,
    shard: String,
    seed: u64,
    /// What was certified: resuming with other inputs or labels is refused.
    inputs: String,
}

impl RunOptions {
    /// The options that decide what the run's records certify.
    fn identity(&self) -> RunIdentity {
        RunIdentity {
            model: Some(self.model.clone()),
            cost: self.cost.clone(),
            sigma: Some(self.sigma),
            noise: self.noise.to_string(),
            n0: Some(self.n0),
            n: Some(self.n),
            target_radius: self.target_radius,
            radius_tolerance: self.radius_tolerance,
            alpha: Some(self.alpha),
            seed: Some(self.seed),
            shard: Some(self.shard.clone()),
            inputs: Some(self.inputs.clone()),
            ..RunIdentity::default()
        }
    }
}

/// The most values of one input: a forward pass holds a block of
/// [`BLOCK`] noisy copies at least, within [`MAX_BATCH_BYTES`] of `f32`s.
const MAX_INPUT_VALUES: u64 = MAX_BATCH_BYTES / 4 / BLOCK;

/// Inputs given from Python, flattened, with their shape.
struct Input {
    values: Vec<f32>,
    shape: Vec<usize>,
}

impl Input {
    /// The array argument `value`, its shape checked by `check` before
    /// NumPy or csrs copies it: [`Input::copy`].
    fn of(value: &Bound<'_, PyAny>, name: &str, check: impl FnOnce(&[usize]) -> PyResult<()>) -> PyResult<Self> {
        let shape = args::shape(value, name)?;
        check(&shape)?;
        Self::copy(value, name, shape)
    }

    /// The values of the array argument `value`, of the `shape` it was
    /// measured and checked with: at least one, every one finite. A copy
    /// larger than memory is a `MemoryError`; another shape (an object
    /// whose `__array__` changed since) a `ValueError`, since what was
    /// checked against that shape (the labels' number) would not hold.
    fn copy(value: &Bound<'_, PyAny>, name: &str, shape: Vec<usize>) -> PyResult<Self> {
        let array = value
            .extract::<PyArrayLikeDyn<'_, f32, AllowTypeChange>>()
            .map_err(|err| args::named(value.py(), err, name))?;
        let array = array.as_array();
        if array.shape() != shape {
            return Err(value_error(format!(
                "{name} has shape {:?}, expected {shape:?}, the shape it had when measured",
                array.shape()
            )));
        }
        let mut values = Vec::new();
        values.try_reserve_exact(array.len()).map_err(|_| {
            PyMemoryError::new_err(format!("{name} has {} values, more than memory holds for csrs's copy", array.len()))
        })?;
        values.extend(array.iter().copied());
        if values.is_empty() {
            return Err(value_error(format!("{name} is empty, expected an input of at least one value")));
        }
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            return Err(value_error(format!("{name} has {} at index {at}, expected finite values", values[at])));
        }
        Ok(Input { values, shape })
    }
}

/// Refuses inputs of `input_shape`, in the argument `name` of `shape`,
/// without a dimension or above [`MAX_INPUT_VALUES`] values.
fn check_input(name: &str, shape: &[usize], input_shape: &[usize]) -> PyResult<()> {
    if input_shape.is_empty() {
        return Err(value_error(format!("{name} has shape [], expected an input of at least one dimension")));
    }
    let values = input_shape.iter().try_fold(1_u64, |values, &len| values.checked_mul(len as u64));
    if values.is_none_or(|values| values > MAX_INPUT_VALUES) {
        return Err(value_error(format!(
            "{name} has shape {shape:?}, expected at most {MAX_INPUT_VALUES} values per input (a block of {BLOCK} noisy copies in {MAX_BATCH_BYTES} bytes)"
        )));
    }
    Ok(())
}

fn value_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}

/// A number of draws (`n0`, `n`): 1 to [`MAX_DRAWS`].
fn draws(value: &Int, name: &str) -> PyResult<DrawCount> {
    let expected = format!("1 to {MAX_DRAWS} draws per input");
    let n = value.get(name, 0..=u64::MAX, format_args!("{expected}"))?;
    DrawCount::new(n).map_err(|_| value_error(format!("{name} {n}, expected {expected}")))
}

/// The noisy copies of a forward pass (`batch`): 1 to [`MAX_BATCH`]
/// (whose bytes [`check_batch`] bounds once the input is known).
fn batch(value: &Int) -> PyResult<usize> {
    value.get("batch", 1..=MAX_BATCH, format_args!("1 to {MAX_BATCH} noisy copies per forward pass"))
}

/// An argument naming one of 2⁶⁴ noise streams (`seed`, `example`).
fn stream(value: &Int, name: &str) -> PyResult<u64> {
    value.get(name, 0..=u64::MAX, format_args!("0 to {}", u64::MAX))
}

// The integer arguments with a default, read by `from_py_with`: their
// defaults stay literals, which the signature Python shows repeats.

/// `seed`, as [`stream`] takes it.
fn read_seed(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    stream(&value.extract()?, "seed")
}

/// `example`, as [`stream`] takes it.
fn read_example(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    stream(&value.extract()?, "example")
}

/// The most a count of inputs in a run's settings (`skip`, `max`) may be:
/// [`MAX_INTEGER`], the largest integer a settings file holds, refused here
/// by the argument's name rather than by the settings.
const MAX_COUNT: usize = MAX_INTEGER as usize;

/// `skip`: every skip-th input, from 1.
fn read_skip(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    let expected = format_args!("1 to {MAX_COUNT} (every skip-th input; the largest integer a settings file holds)");
    value.extract::<Int>()?.get("skip", 1..=MAX_COUNT, expected)
}

/// `shard` as the examples it picks: `None` for all of them, `"i/k"` or
/// `(i, k)` with 0 <= i < k.
fn shard(value: Option<&Bound<'_, PyAny>>) -> PyResult<Shard> {
    let Some(value) = value else {
        return Ok(Shard::ALL);
    };
    let (parsed, shown) = match value.cast::<PyString>() {
        Ok(text) => {
            let text = text.to_cow()?;
            (text.parse().ok(), format!("{:?}", args::shown(&text)))
        }
        Err(_) => {
            let (index, count) = value.extract::<(Int, Int)>().map_err(|_| {
                PyTypeError::new_err(format!("shard is {}, expected \"i/k\" or (i, k)", args::type_name(value)))
            })?;
            let whole = 0..=usize::MAX;
            let (i, k) = (index.within("shard[0]", &whole)?, count.within("shard[1]", &whole)?);
            let parsed = i.zip(k).and_then(|(index, count)| Shard::new(index, count).ok());
            (parsed, format!("({index}, {count})"))
        }
    };
    parsed.ok_or_else(|| value_error(format!("shard {shown}, expected i/k with 0 <= i < k, e.g. \"0/4\" or (0, 4)")))
}

/// The stop rule of `target_radius` or `radius_tolerance`, as the command's.
fn stop_rule(target_radius: Option<f64>, radius_tolerance: Option<f64>) -> PyResult<Option<StopRule>> {
    StopRule::of_settings(target_radius, radius_tolerance).map_err(|err| value_error(err.to_string()))
}

/// What a run tells its watchers: notes to the `csrs` logger, and each
/// example done to the `progress` callable, `progress(done, total)`.
struct PyObserver {
    progress: Option<Py<PyAny>>,
    done: usize,
    total: usize,
    failure: Failure,
}

impl Observer for PyObserver {
    fn spelling(&self) -> &dyn Spelling {
        &convert::Arguments
    }

    fn note(&mut self, line: &str) {
        Python::attach(|py| {
            let logged = py.import("logging").and_then(|logging| {
                let logger = logging.call_method1("getLogger", ("csrs",))?;
                let level = if line.starts_with("note:") { "warning" } else { "info" };
                logger.call_method1(level, (line,)).map(drop)
            });
            if let Err(err) = logged {
                self.failure.keep(err);
            }
        });
    }

    fn started(&mut self, todo: usize) {
        self.total = todo;
    }

    fn example_done(&mut self, _samples: u64) {
        self.done += 1;
        if let Some(progress) = &self.progress {
            Python::attach(|py| {
                if let Err(err) = progress.bind(py).call1((self.done, self.total)) {
                    self.failure.keep(err);
                }
            });
        }
    }
}

impl Smoothed {
    /// The counter of this model for inputs of `shape`, `batch` draws per
    /// forward pass.
    fn counter(
        &self,
        py: Python<'_>,
        shape: &[usize],
        batch: usize,
        failure: &Failure,
    ) -> Box<dyn ClassCounter + Send> {
        let (m, len, shape) = (self.num_classes, shape.iter().product(), shape.to_vec());
        match &self.model {
            Model::Classify(classify) => {
                let classify = PyClassify { classify: classify.clone_ref(py), shape, failure: failure.clone() };
                Box::new(ClassifyCounter::new(classify, m, len, batch))
            }
            Model::Seeded(model) => {
                let model = PySeeded { model: model.clone_ref(py), shape, n_classes: m, failure: failure.clone() };
                Box::new(SeededCounter::new(model, m, len, batch))
            }
        }
    }

    fn smoothed(
        &self,
        py: Python<'_>,
        shape: &[usize],
        batch: usize,
        failure: &Failure,
    ) -> PyResult<csrs_sampling::Smoothed<Box<dyn ClassCounter + Send>>> {
        // A forward pass holds whole blocks, at least one: a batch below a
        // block draws a block.
        check_batch("batch", batch.max(BLOCK as usize), shape.iter().product()).map_err(convert::error)?;
        Ok(csrs_sampling::Smoothed::new(
            self.counter(py, shape, batch, failure),
            self.noise.for_smoothing(Smoothing::Gaussian(self.sigma)),
        ))
    }

    /// The class `label` given from Python: one below `num_classes`.
    fn label(&self, label: &Int) -> PyResult<usize> {
        let m = self.num_classes;
        label.get("label", 0..=m - 1, format_args!("a class below {m} (num_classes)"))
    }

    /// The class of each of `count` inputs, given from Python (`labels`).
    fn labels(&self, labels: &Bound<'_, PyAny>, count: usize) -> PyResult<Vec<usize>> {
        let m = self.num_classes;
        args::sequence(labels, "labels", Length::Exactly(count, "one per input"), |label, index| {
            let label: Int = label.extract()?;
            label.within(format_args!("labels[{index}]"), &(0..=m - 1))?.ok_or_else(|| {
                value_error(format!("labels: {label}, expected classes 0 to {} (labels[{index}])", m - 1))
            })
        })
    }

    fn build(model: Model, num_classes: &Int, sigma: f64, noise: &str, seed: u64, name: String) -> PyResult<Self> {
        let num_classes = class_count(num_classes)?;
        let sigma = Sigma::new(sigma).map_err(|err| value_error(format!("sigma: {err}")))?;
        // Parsed at most in part: the message repeats it.
        let noise: NoiseKind =
            args::shown(noise).parse().map_err(|err: String| value_error(format!("noise: {err}")))?;
        if matches!(model, Model::Seeded(_)) && noise == NoiseKind::Sound {
            return Err(value_error(
                "noise \"sound\": a model that draws its own noise takes gaussian noise only (sound noise is drawn by csrs: use csrs.Smoothed)"
                    .to_owned(),
            ));
        }
        Ok(Smoothed { model, num_classes, sigma, noise, seed, name })
    }
}

/// The name of a callable, for the settings of its runs.
fn name_of(model: &Bound<'_, PyAny>) -> PyResult<String> {
    let named = if model.hasattr("__name__")? { model.clone() } else { model.get_type().into_any() };
    named.getattr("__name__")?.extract()
}

fn alpha(alpha: f64) -> PyResult<Alpha> {
    Alpha::new(alpha).map_err(|err| value_error(format!("alpha: {err}")))
}

#[pymethods]
impl Smoothed {
    #[new]
    #[pyo3(signature = (classify, *, num_classes, sigma, noise = "gaussian", seed = 0, name = None))]
    fn new(
        classify: Bound<'_, PyAny>,
        num_classes: Int,
        sigma: f64,
        noise: &str,
        #[pyo3(from_py_with = read_seed)] seed: u64,
        name: Option<String>,
    ) -> PyResult<Self> {
        if !classify.is_callable() {
            return Err(PyTypeError::new_err(
                "classify is not callable, expected a function from a float32 array (B, *input_shape) to B classes",
            ));
        }
        let name = name.map_or_else(|| name_of(&classify), Ok)?;
        Self::build(Model::Classify(classify.unbind()), &num_classes, sigma, noise, seed, name)
    }

    /// A smoothed classifier whose model draws its own Gaussian noise:
    /// `model.count_blocks(inputs, owners, seeds, sizes, sigma)` returns,
    /// for each block b, the class counts of `sizes[b]` copies of
    /// `inputs[owners[b]]` plus σ·z, z from a generator seeded with
    /// `seeds[b]`; `model.base_class(input)` the class of a clean input
    /// (shape (1, *input_shape)). `csrs.torch.Smoothed` is such a model.
    #[staticmethod]
    #[pyo3(signature = (model, *, num_classes, sigma, seed = 0, name))]
    fn drawing_own_noise(
        model: Bound<'_, PyAny>,
        num_classes: Int,
        sigma: f64,
        #[pyo3(from_py_with = read_seed)] seed: u64,
        name: String,
    ) -> PyResult<Self> {
        for method in ["count_blocks", "base_class"] {
            if !model.hasattr(method)? {
                return Err(PyTypeError::new_err(format!(
                    "the model has no {method} method, expected count_blocks(inputs, owners, seeds, sizes, sigma) and base_class(input)"
                )));
            }
        }
        Self::build(Model::Seeded(model.unbind()), &num_classes, sigma, "gaussian", seed, name)
    }

    /// Certify-CS for input `x` of class `label`: the prediction from `n0`
    /// draws and bounds from `n` fresh ones (Cohen's CERTIFY without a
    /// cost row). With `target_radius` (or `radius_tolerance`), the
    /// estimation draws come in doubling rounds from 100, at most `n`,
    /// until it is known whether `x` is certified at that radius (or the
    /// radius is known to that precision), with anytime-valid bounds.
    /// `example` picks the input's noise stream: `certify_dataset` gives
    /// input i stream i. Returns the keys of `csrs certify-counts`' result
    /// plus `draws`, the estimation draws made.
    #[pyo3(signature = (x, label, *, n0, n, alpha, batch, cost_row = None, target_radius = None, radius_tolerance = None, example = 0))]
    #[allow(clippy::too_many_arguments)]
    fn certify<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        label: Int,
        n0: Int,
        n: Int,
        alpha: f64,
        batch: Int,
        cost_row: Option<&Bound<'py, PyAny>>,
        target_radius: Option<f64>,
        radius_tolerance: Option<f64>,
        #[pyo3(from_py_with = read_example)] example: u64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let input = Input::of(x, "x", |shape| check_input("x", shape, shape))?;
        let label = self.label(&label)?;
        let (n0, n, batch) = (draws(&n0, "n0")?, draws(&n, "n")?, self::batch(&batch)?);
        let alpha = self::alpha(alpha)?;
        let rule = stop_rule(target_radius, radius_tolerance)?;
        let cost_row = args::optional_floats(cost_row, "cost_row", Length::Exactly(self.num_classes, "num_classes"))?;
        let row = cost_row
            .as_deref()
            .map(|costs| CostRow::new(costs, label).map_err(|err| value_error(format!("cost_row: {err}"))))
            .transpose()?;
        let failure = Failure::default();
        let mut smoothed = self.smoothed(py, &input.shape, batch, &failure)?;
        let stream = NoiseStream::new(self.seed, example);
        let certified = py.detach(|| match rule {
            None => smoothed.certify(&input.values, row.as_ref(), alpha, n0.get(), n.get(), stream),
            Some(rule) => {
                let rounds = Rounds { rule, first: BLOCK, max_n: n.get() };
                smoothed
                    .certify_in_rounds(&input.values, row.as_ref(), alpha, n0.get(), rounds, stream)
                    .map(|c| c.certified)
            }
        });
        let certified = failure.outcome(certified.map_err(Into::into))?;
        convert::certificate(py, &certified.certificate, Some(certified.estimation.total()))
    }

    /// Cohen et al.'s PREDICT from `n` draws at level `alpha`: `predicted`
    /// (`None` on abstain), `abstain`, and the counts of the top two
    /// classes, `count_top` and `count_second`.
    #[pyo3(signature = (x, *, n, alpha, batch, example = 0))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        n: Int,
        alpha: f64,
        batch: Int,
        #[pyo3(from_py_with = read_example)] example: u64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let input = Input::of(x, "x", |shape| check_input("x", shape, shape))?;
        let (n, batch) = (draws(&n, "n")?, self::batch(&batch)?);
        let alpha = self::alpha(alpha)?;
        let failure = Failure::default();
        let mut smoothed = self.smoothed(py, &input.shape, batch, &failure)?;
        let stream = NoiseStream::new(self.seed, example);
        let predicted = py.detach(|| smoothed.predict(&input.values, alpha, n.get(), stream));
        let predicted = failure.outcome(predicted.map_err(Into::into))?;
        let (top, second) = predicted.counts.top_two();
        let dict = PyDict::new(py);
        let class = match predicted.prediction {
            Prediction::Class(class) => Some(class),
            Prediction::Abstain => None,
        };
        dict.set_item("predicted", class)?;
        dict.set_item("abstain", class.is_none())?;
        dict.set_item("count_top", predicted.counts.count(top))?;
        dict.set_item("count_second", predicted.counts.count(second))?;
        Ok(dict)
    }

    /// Certifies each input of `inputs` (N, *input_shape) with its label
    /// into the records file `out` (`.tsv` or `.jsonl`), as `csrs certify`
    /// does: a record appended and flushed per input, the settings beside
    /// them in `<out>.config.toml`, the file locked while it is written and
    /// marked whole when the run ends. `cost` is a `CostMatrix` or the path
    /// of a cost file. An existing `out` is refused unless `resume=True`,
    /// which keeps its records and certifies the rest with the same
    /// settings. `shard` ("i/k" or (i, k)), `skip` and `max` pick the
    /// inputs as the command's options do; with a stop rule, the inputs of
    /// a group share forward passes. `progress(done, total)` is called
    /// after each input. Ctrl-C stops the run between forward passes with
    /// its records intact; `resume=True` continues it. Returns every
    /// record of the file, as dicts.
    #[pyo3(signature = (inputs, labels, *, out, n0, n, alpha, batch, cost = None, target_radius = None, radius_tolerance = None, resume = false, adopt_settings = false, shard = None, skip = 1, max = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn certify_dataset<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyAny>,
        labels: &Bound<'py, PyAny>,
        out: PathBuf,
        n0: Int,
        n: Int,
        alpha: f64,
        batch: Int,
        cost: Option<Bound<'py, PyAny>>,
        target_radius: Option<f64>,
        radius_tolerance: Option<f64>,
        resume: bool,
        adopt_settings: bool,
        shard: Option<&Bound<'py, PyAny>>,
        #[pyo3(from_py_with = read_skip)] skip: usize,
        max: Option<Int>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        // Every argument is checked before `inputs` is copied, which may
        // be large: a mistyped one is refused at once.
        let shape = args::shape(inputs, "inputs")?;
        let (count, input_shape) = match shape.split_first() {
            Some((&count, input_shape)) if !input_shape.is_empty() => {
                check_input("inputs", &shape, input_shape)?;
                (count, input_shape.to_vec())
            }
            _ => return Err(value_error(format!("inputs has shape {shape:?}, expected (N, *input_shape)"))),
        };
        let labels = self.labels(labels, count)?;
        let (n0, n, batch) = (draws(&n0, "n0")?, draws(&n, "n")?, self::batch(&batch)?);
        let max = max
            .map(|max| {
                let expected = format_args!("0 to {MAX_COUNT} inputs (the largest integer a settings file holds)");
                max.get("max", 0..=MAX_COUNT, expected)
            })
            .transpose()?;
        let checked_alpha = self::alpha(alpha)?;
        let rule = stop_rule(target_radius, radius_tolerance)?;
        let shard = self::shard(shard)?;
        // The seed, given when the classifier was made, becomes a setting
        // here only.
        Int::Whole(self.seed.into()).get(
            "seed",
            0..=MAX_INTEGER,
            format_args!("0 to {MAX_INTEGER} for certify_dataset (the largest integer a settings file holds)"),
        )?;
        if let Some(progress) = &progress
            && !progress.bind(py).is_callable()
        {
            let found = args::type_name(progress.bind(py));
            return Err(PyTypeError::new_err(format!(
                "progress is {found}, expected a callable progress(done, total)"
            )));
        }
        let matrix = match &cost {
            None => None,
            Some(cost) => Some(match cost.cast::<CostMatrix>() {
                Ok(matrix) => {
                    let matrix = matrix.get();
                    (matrix.matrix.clone(), matrix.setting())
                }
                Err(_) => {
                    let path: PathBuf = cost.extract().map_err(|_| {
                        PyTypeError::new_err("cost is neither a CostMatrix nor the path of a cost file")
                    })?;
                    let loaded = csrs_cost::CostMatrix::load(&path, Some(self.num_classes)).map_err(cost_error)?;
                    (loaded, toml::Value::String(path.display().to_string()))
                }
            }),
        };
        if let Some((matrix, _)) = &matrix
            && matrix.n_classes() != self.num_classes
        {
            return Err(value_error(format!(
                "cost has {} classes, expected {} (num_classes)",
                matrix.n_classes(),
                self.num_classes
            )));
        }
        let failure = Failure::default();
        let mut smoothed = self.smoothed(py, &input_shape, batch, &failure)?;
        let all = Input::copy(inputs, "inputs", shape)?;
        let (target_radius, radius_tolerance) = match rule {
            Some(StopRule::AtRadius(radius)) => (Some(radius), None),
            Some(StopRule::Within(tolerance)) => (None, Some(tolerance)),
            None => (None, None),
        };
        let options = RunOptions {
            model: self.name.clone(),
            cost: matrix.as_ref().map(|(_, setting)| setting.clone()),
            sigma: self.sigma.get(),
            noise: self.noise,
            n0: n0.get(),
            n: n.get(),
            target_radius,
            radius_tolerance,
            alpha,
            batch,
            skip,
            max,
            shard: shard.to_string(),
            seed: self.seed,
            inputs: fingerprint(&all.shape, &all.values, &labels),
        };
        let settings = Settings::new(&options.identity(), &options).map_err(convert::error)?;
        let run = RunSettings {
            batch,
            seed: self.seed,
            skip,
            max,
            shard,
            resume,
            adopt_settings,
            ..RunSettings::new(out, checked_alpha, n)
        };
        let image = match input_shape[..] {
            [channels, height, width] => ImageShape { channels, height, width },
            _ => ImageShape { channels: 1, height: 1, width: input_shape.iter().product() },
        };
        let class_names = (0..self.num_classes).map(|class| class.to_string()).collect();
        let dataset = Dataset::in_memory("inputs", image, all.values, labels, class_names);
        let mut observer = PyObserver { progress, done: 0, total: 0, failure: failure.clone() };
        let cost = matrix.as_ref().map(|(matrix, _)| matrix);
        let rows = py.detach(|| {
            if self.noise == NoiseKind::Sound {
                note_grid_distance(&dataset, "the", &run, &mut observer)?;
            }
            let how = Certify { n0, cost, rule };
            csrs_run::certify(&run, &settings, &mut smoothed, &dataset, how, &mut observer)
        });
        let rows = failure.outcome(rows)?;
        records(py, &rows)
    }

    /// The number of classes.
    #[getter]
    fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// σ.
    #[getter]
    fn sigma(&self) -> f64 {
        self.sigma.get()
    }

    /// `"gaussian"` or `"sound"`.
    #[getter]
    fn noise(&self) -> &'static str {
        self.noise.as_str()
    }

    /// The seed of the noise.
    #[getter]
    fn seed(&self) -> u64 {
        self.seed
    }

    /// The model's name in a run's settings.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }
}

/// The inputs and labels of a run in a line: their shape and a 64-bit
/// FNV-1a hash of their values' bytes and the labels, so that a resumed
/// run on other data is told apart.
fn fingerprint(shape: &[usize], values: &[f32], labels: &[usize]) -> String {
    let bytes = values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .chain(labels.iter().flat_map(|&label| (label as u64).to_le_bytes()));
    let hash =
        bytes.fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    format!("{shape:?} with labels, fnv1a-64 {hash:016x}")
}

/// Records as a list of dicts, their JSONL objects.
pub(crate) fn records<'py>(py: Python<'py>, rows: &[CertifyRow]) -> PyResult<Bound<'py, PyList>> {
    let dicts = rows
        .iter()
        .map(|row| {
            let value = serde_json::to_value(row.to_record()).map_err(|err| convert::error(err.into()))?;
            convert::record(py, &value)
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, dicts)
}
