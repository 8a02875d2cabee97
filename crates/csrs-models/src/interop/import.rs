//! PyTorch state dicts into csrs models, through the network's [`Graph`].

use std::collections::{HashMap, HashSet};

use burn::module::ParamId;
use burn::prelude::*;
use burn_store::{ModuleSnapshot, TensorSnapshot};

use super::state_dict::StateDict;
use crate::graph::{Graph, Parameter, Storage};
use crate::{Classifier, Denoiser, DenoiserNet, DenoiserSpec, ModelError, ModelSpec, Result};

/// Where a network's state dict sits in a checkpoint: the dictionary entry
/// that holds it (Cohen et al. and most training scripts: `state_dict`;
/// MACER: `net`), then the wrappers around the network (`1.` for a
/// `Sequential` whose entry 0 is a normalisation layer without parameters,
/// `module.` for `DataParallel`). Tried in this order; "" is the bare layout.
const CONTAINERS: [&str; 5] = ["", "state_dict.", "net.", "model.", "model_state_dict."];
const WRAPPERS: [&str; 4] = ["", "1.module.", "1.", "module."];

/// How many keys an error lists.
const LISTED: usize = 4;

/// The prefix under which `state` holds the network's tensors, e.g.
/// `state_dict.1.module.`.
///
/// # Errors
/// [`ModelError::Import`] when no known layout holds the graph's first
/// tensor.
pub fn find_prefix(state: &StateDict, graph: &Graph) -> Result<String> {
    let first = graph.parameters().into_iter().next().expect("every network has parameters").torch;
    for container in CONTAINERS {
        for wrapper in WRAPPERS {
            let prefix = format!("{container}{wrapper}");
            if state.contains(&format!("{prefix}{first}")) {
                return Ok(prefix);
            }
        }
    }
    let keys = state.keys();
    Err(ModelError::Import {
        path: state.path().to_owned(),
        message: format!(
            "unknown layout: no tensor {first}, bare or under {} with or without {} (the file holds {} tensors: {})",
            CONTAINERS[1..].join(", "),
            WRAPPERS[1..].join(", "),
            keys.len(),
            first_few(keys.iter().copied())
        ),
    })
}

/// Reads the network `spec` describes from `state` into a classifier.
///
/// Every tensor the network needs must be there with its PyTorch shape, and
/// nothing else may sit beside them (except batch norm's counters, which
/// inference never reads): a state dict of another architecture or depth is
/// refused rather than half loaded.
///
/// # Errors
/// [`ModelError::Import`]: an unknown layout, missing or unexpected keys
/// (the first few of each), a tensor of the wrong shape (its name and both
/// shapes), or unreadable data.
pub fn import<B: Backend>(state: &StateDict, spec: &ModelSpec, device: &B::Device) -> Result<Classifier<B>> {
    // The graph's shapes are computed from the spec: it must be within the
    // size limits first.
    spec.check()?;
    let prefix = find_prefix(state, &Graph::of(spec))?;
    let parameters = spec.parameters();
    check_keys(state, &prefix, &parameters, spec.architecture.as_str())?;

    let bad = |message: String| ModelError::Import { path: state.path().to_owned(), message };
    let mut tensors = Vec::new();
    for parameter in parameters.into_iter().filter(|p| p.storage != Storage::TorchOnly) {
        let key = format!("{prefix}{}", parameter.torch);
        let shape = state.shape(&key).expect("checked above");
        if shape != parameter.shape {
            return Err(bad(format!(
                "tensor {key} has shape {shape:?}, but {} expects {:?} there",
                spec.architecture, parameter.shape
            )));
        }
        let values = state.values(&key)?;
        if let Some(value) = values.iter().find(|v| !v.is_finite()) {
            return Err(bad(format!("tensor {key} holds {value}, expected finite numbers")));
        }
        tensors.push((parameter, values));
    }
    load(spec, tensors, device)
}

/// Reads a DnCNN denoiser (Salman et al.'s layout, [`Graph::dncnn`]) for
/// images of `input_shape` from `state`, its depth and width read off the
/// tensors.
///
/// # Errors
/// [`ModelError::Import`] as [`import`] says, or no DnCNN in the file.
pub fn import_denoiser<B: Backend>(
    state: &StateDict,
    input_shape: [usize; 3],
    device: &B::Device,
) -> Result<(DenoiserSpec, Denoiser<B>)> {
    let bad = |message: String| ModelError::Import { path: state.path().to_owned(), message };
    let probe = Graph::dncnn(input_shape, 2, 1);
    let prefix = find_prefix(state, &probe)?;
    let first = state.shape(&format!("{prefix}dncnn.0.weight")).unwrap_or_default();
    let &[width, channels, 3, 3] = first.as_slice() else {
        return Err(bad(format!(
            "tensor {prefix}dncnn.0.weight has shape {first:?}, expected [width, {}, 3, 3]",
            input_shape[0]
        )));
    };
    if channels != input_shape[0] {
        return Err(bad(format!("the denoiser reads {channels} channels, the images have {}", input_shape[0])));
    }
    // The convolutions after the first sit at 2, 5, 8, …: after the first
    // ReLU, then after each block's batch norm and ReLU.
    let later = (0..).take_while(|k| state.contains(&format!("{prefix}dncnn.{}.weight", 2 + 3 * k))).count();
    let spec = DenoiserSpec { input_shape, network: DenoiserNet::Dncnn { depth: 1 + later, width } };
    spec.check()?;
    check_keys(state, &prefix, &spec.graph().parameters(), "dncnn")?;
    let mut tensors = HashMap::new();
    for parameter in spec.parameters() {
        let key = format!("{prefix}{}", parameter.torch);
        let shape = state.shape(&key).expect("checked above");
        if shape != parameter.shape {
            return Err(bad(format!(
                "tensor {key} has shape {shape:?}, but dncnn expects {:?} there",
                parameter.shape
            )));
        }
        tensors.insert(parameter.torch, state.values(&key)?);
    }
    let denoiser = Denoiser::from_tensors(&spec, &tensors, device).map_err(|err| bad(err.to_string()))?;
    Ok((spec, denoiser))
}

/// A classifier for `spec` holding `weights`, PyTorch's tensors by PyTorch
/// name in PyTorch's layout (as an engine reads them, or an ONNX file
/// gives them).
///
/// # Errors
/// [`ModelError::Spec`] naming a tensor that is missing, of another size or
/// not finite.
pub fn from_tensors<B: Backend>(
    spec: &ModelSpec,
    weights: &HashMap<String, Vec<f32>>,
    device: &B::Device,
) -> Result<Classifier<B>> {
    spec.check()?;
    let mut tensors = Vec::new();
    for parameter in spec.parameters().into_iter().filter(|p| p.storage != Storage::TorchOnly) {
        let bad = |what: String| ModelError::Spec(format!("tensor {}: {what}", parameter.torch));
        let values = weights.get(&parameter.torch).ok_or_else(|| bad("missing".into()))?;
        if values.len() != parameter.len() {
            return Err(bad(format!("{} values, expected {:?}", values.len(), parameter.shape)));
        }
        if let Some(value) = values.iter().find(|v| !v.is_finite()) {
            return Err(bad(format!("holds {value}, expected finite numbers")));
        }
        tensors.push((parameter, values.clone()));
    }
    load(spec, tensors, device)
}

/// A classifier for `spec` with these tensors, of the shapes its graph
/// gives them.
fn load<B: Backend>(
    spec: &ModelSpec,
    tensors: Vec<(Parameter, Vec<f32>)>,
    device: &B::Device,
) -> Result<Classifier<B>> {
    let mut snapshots = Vec::new();
    let mut wanted = Vec::new();
    for (parameter, values) in tensors {
        let (values, shape) = match parameter.storage {
            Storage::Transposed => transpose(&values, parameter.shape[0], parameter.shape[1]),
            Storage::Flat => (values, vec![parameter.len()]),
            Storage::Same | Storage::TorchOnly => (values, parameter.shape.clone()),
        };
        let path = burn_path(&parameter);
        let path_stack = path.split('.').map(str::to_owned).collect();
        snapshots.push(TensorSnapshot::from_data(
            TensorData::new(values, shape),
            path_stack,
            Vec::new(),
            ParamId::new(),
        ));
        wanted.push(path);
    }

    let mut model = Classifier::<B>::init(spec, device)?;
    let result = model.apply(snapshots, None, None, true);
    let applied: HashSet<&str> = result.applied.iter().map(String::as_str).collect();
    // A tensor the graph names but the burn network does not hold (or holds
    // in another shape) is a disagreement between the two descriptions, not
    // the user's file.
    if let Some(path) = wanted.iter().find(|p| !applied.contains(p.as_str())) {
        let errors: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
        let message = format!("the {} network does not take {path} as described: {errors:?}", spec.architecture);
        return Err(ModelError::Spec(message));
    }
    Ok(model)
}

/// Refuses a state dict whose keys under `prefix` are not exactly the
/// network's.
fn check_keys(state: &StateDict, prefix: &str, parameters: &[Parameter], network: &str) -> Result<()> {
    let expected: HashSet<&str> = parameters.iter().map(|p| p.torch.as_str()).collect();
    let missing: Vec<&str> = parameters
        .iter()
        .filter(|p| p.storage != Storage::TorchOnly && !state.contains(&format!("{prefix}{}", p.torch)))
        .map(|p| p.torch.as_str())
        .collect();
    // The whole container is the model's state: with `state_dict.1.module.`,
    // a tensor under `state_dict.0.` is the model's too.
    let container = CONTAINERS[1..].iter().find(|c| prefix.starts_with(**c)).copied().unwrap_or("");
    let unexpected: Vec<&str> = state
        .keys()
        .into_iter()
        .filter(|key| key.starts_with(container))
        .filter(|key| key.strip_prefix(prefix).is_none_or(|name| !expected.contains(name)))
        .collect();
    if missing.is_empty() && unexpected.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "{} missing keys ({})",
            missing.len(),
            first_few(missing.iter().map(|k| format!("{prefix}{k}")))
        ));
    }
    if !unexpected.is_empty() {
        parts.push(format!("{} unexpected keys ({})", unexpected.len(), first_few(unexpected.iter().copied())));
    }
    Err(ModelError::Import {
        path: state.path().to_owned(),
        message: format!("does not fit {network}: {}", parts.join(", ")),
    })
}

/// The burn path of a parameter inside a [`Classifier`].
pub(crate) fn burn_path(parameter: &Parameter) -> String {
    format!("net.{}", parameter.burn)
}

/// `[rows, cols]` → `[cols, rows]`, row-major.
pub(crate) fn transpose(values: &[f32], rows: usize, cols: usize) -> (Vec<f32>, Vec<usize>) {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    (out, vec![cols, rows])
}

/// The first few items, comma-separated, with "…" when there are more.
fn first_few<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut items = items.into_iter();
    let mut listed: Vec<String> = items.by_ref().take(LISTED).map(|s| s.as_ref().to_owned()).collect();
    if items.next().is_some() {
        listed.push("…".to_owned());
    }
    listed.join(", ")
}
