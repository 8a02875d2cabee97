//! Models from other frameworks: PyTorch checkpoints and safetensors files
//! of csrs's architectures, and ONNX files of any network made of the
//! operators csrs reads, turned into csrs checkpoints by `csrs model
//! import`, or on the fly when `--model` names such a file.

use std::path::Path;

use anyhow::{Context, bail};
use burn::prelude::Backend;
use csrs_artifacts::{Setting, Spelling, Worded};
use csrs_data::DatasetName;
use csrs_models::graph::Graph;
use csrs_models::interop::{StateDict, find_prefix, import};
use csrs_models::{Architecture, Checkpoint, CheckpointMeta, ModelSpec};

/// How to read a foreign weights file: what the file itself cannot say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Import {
    /// The architecture (default: the file's `arch` entry, when it has one).
    pub arch: Option<Architecture>,
    /// The per-channel mean of the input normalisation (default: the
    /// dataset's, or the file's own for a safetensors file csrs wrote).
    pub mean: Option<Vec<f32>>,
    /// The per-channel standard deviation of the normalisation (as `mean`).
    pub std: Option<Vec<f32>>,
}

/// Whether `path` names a model file of another framework rather than a
/// csrs checkpoint: `.pth`, `.pt`, `.pth.tar`, `.tar`, `.ckpt`, `.bin`,
/// `.safetensors`, `.onnx`.
pub fn is_foreign(path: &Path) -> bool {
    is_onnx(path)
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "pth" | "pt" | "tar" | "ckpt" | "bin" | "safetensors"))
}

/// Whether `path` names an ONNX file (`.onnx`): a network with its layers,
/// not only weights.
pub fn is_onnx(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "onnx")
}

/// A csrs checkpoint or a foreign weights file, whichever `path` names,
/// with `expected_classes` outputs when given.
///
/// # Errors
/// What reading the file says; a foreign file without a dataset, import
/// options for a csrs checkpoint, or another class count.
pub fn load_model<B: Backend>(
    path: &Path,
    dataset: Option<DatasetName>,
    options: &Import,
    expected_classes: Option<usize>,
    device: &B::Device,
) -> anyhow::Result<Checkpoint<B>> {
    if is_foreign(path) {
        let Some(dataset) = dataset else {
            let path = path.display().to_string();
            let text = move |s: &dyn Spelling| {
                format!("{path}: a PyTorch, safetensors or ONNX model needs {}", s.name(Setting::Dataset))
            };
            return Err(Worded::new(text).into());
        };
        let checkpoint = import_file(path, dataset, options, device)?;
        if let Some(expected) = expected_classes.filter(|&m| m != checkpoint.meta.spec.n_classes) {
            bail!(
                "{}: the model has {} outputs, expected {expected} classes",
                path.display(),
                checkpoint.meta.spec.n_classes
            );
        }
        Ok(checkpoint)
    } else {
        let given = [
            (Setting::Arch, options.arch.is_some()),
            (Setting::Mean, options.mean.is_some()),
            (Setting::Std, options.std.is_some()),
        ];
        if let Some(&(setting, _)) = given.iter().find(|(_, given)| *given) {
            let path = path.display().to_string();
            return Err(Worded::new(move |s| {
                format!(
                    "{} applies to PyTorch, safetensors or ONNX files; {path} is a csrs checkpoint",
                    s.name(setting)
                )
            })
            .into());
        }
        Ok(Checkpoint::load(path, expected_classes, device)?)
    }
}

/// Reads a PyTorch or safetensors file as a csrs model for `dataset`.
///
/// The architecture comes from `--arch`, else from the file; the input
/// shape and normalisation from the dataset unless `--mean/--std` say
/// otherwise (a safetensors file that csrs wrote carries its own); the
/// class count from the weights, checked against the dataset's classes.
///
/// # Errors
/// What reading the file says, and weights that do not fit.
pub fn import_file<B: Backend>(
    path: &Path,
    dataset: DatasetName,
    options: &Import,
    device: &B::Device,
) -> anyhow::Result<Checkpoint<B>> {
    if is_onnx(path) {
        let shape = dataset.shape();
        return import_onnx(path, [shape.channels, shape.height, shape.width], Some(dataset), options, device);
    }
    let state = StateDict::read(path)?;
    let architecture = match (options.arch, state.architecture()) {
        (Some(arch), _) => arch,
        (None, Some(name)) => pytorch_architecture(name).map_err(|err| {
            let (path, name) = (path.display().to_string(), name.to_owned());
            Worded::new(move |s| {
                format!("{path}: the file names architecture {name:?}; give {}", s.name(Setting::Arch))
            })
            .caused_by(err)
        })?,
        (None, None) => {
            let path = path.display().to_string();
            return Err(Worded::new(move |s| {
                format!(
                    "{path}: the file does not name its architecture; give {} (one of {})",
                    s.name(Setting::Arch),
                    Architecture::NAMES.join(", ")
                )
            })
            .into());
        }
    };
    let class_names = dataset.class_names();
    let mut spec = ModelSpec::for_dataset(architecture, dataset, class_names.as_ref().map_or(2, Vec::len));
    spec.n_classes = output_count(&state, &spec)?;
    check_classes(path, spec.n_classes, dataset, class_names.as_deref())?;
    let metadata_values = |key: &str| -> Option<Vec<f32>> { serde_json::from_str(state.metadata().get(key)?).ok() };
    if let Some(mean) = options.mean.clone().or_else(|| metadata_values("mean")) {
        spec.mean = mean;
    }
    if let Some(std) = options.std.clone().or_else(|| metadata_values("std")) {
        spec.std = std;
    }
    spec.check().with_context(|| format!("{}: as {architecture} for {dataset}", path.display()))?;
    let model = import::<B>(&state, &spec, device)?;
    let class_names = class_names.unwrap_or_else(|| (0..spec.n_classes).map(|k| k.to_string()).collect());
    let mut meta = CheckpointMeta::new(spec, dataset.as_str(), class_names);
    meta.imported_from = Some(path.display().to_string());
    Ok(Checkpoint { meta, model })
}

/// Reads an ONNX file as a csrs model for inputs of `input`, the images of
/// `dataset` when given (which then names the classes and must have as many
/// as the network's logits).
///
/// The network is taken as it is, on pixels in [0, 1]: any normalisation is
/// among its layers; `--mean/--std` add one before them.
///
/// # Errors
/// What reading the file says ([`csrs_onnx::read`]), `--arch` (the file
/// holds its own layers), or another class count than the dataset's.
pub fn import_onnx<B: Backend>(
    path: &Path,
    input: [usize; 3],
    dataset: Option<DatasetName>,
    options: &Import,
    device: &B::Device,
) -> anyhow::Result<Checkpoint<B>> {
    if let Some(arch) = options.arch {
        let path = path.display().to_string();
        return Err(Worded::new(move |s| {
            format!(
                "{path}: an ONNX file holds its own layers; {} applies to PyTorch files",
                s.given(Setting::Arch, &arch)
            )
        })
        .into());
    }
    let network = csrs_onnx::read(path, input)?;
    let spec = network.spec(options.mean.clone(), options.std.clone());
    let class_names = dataset.and_then(DatasetName::class_names);
    if let Some(dataset) = dataset {
        check_classes(path, spec.n_classes, dataset, class_names.as_deref())?;
    }
    spec.check().with_context(|| format!("{}: as read", path.display()))?;
    let model = csrs_models::interop::from_tensors::<B>(&spec, &network.weights, device)
        .with_context(|| format!("{}: as read", path.display()))?;
    let class_names = class_names.unwrap_or_else(|| (0..spec.n_classes).map(|k| k.to_string()).collect());
    let dataset = dataset.map_or("unknown", DatasetName::as_str);
    let mut meta = CheckpointMeta::new(spec, dataset, class_names);
    meta.imported_from = Some(path.display().to_string());
    Ok(Checkpoint { meta, model })
}

/// A network of `outputs` logits for `dataset`, whose classes are
/// `class_names` when it names them.
fn check_classes(
    path: &Path,
    outputs: usize,
    dataset: DatasetName,
    class_names: Option<&[String]>,
) -> anyhow::Result<()> {
    match class_names {
        Some(names) if names.len() != outputs => {
            bail!("{}: the model has {outputs} outputs, but {dataset} has {} classes", path.display(), names.len())
        }
        _ => Ok(()),
    }
}

/// The number of outputs of the network in `state`: the first dimension of
/// its last layer's weight.
fn output_count(state: &StateDict, spec: &ModelSpec) -> anyhow::Result<usize> {
    let graph = Graph::of(spec);
    let prefix = find_prefix(state, &graph)?;
    let parameters = graph.parameters();
    let last = parameters.iter().rev().find(|p| p.torch.ends_with(".weight")).expect("a network has weights");
    let key = format!("{prefix}{}", last.torch);
    match state.shape(&key) {
        Some(shape) if shape.len() == 2 && shape[0] >= 2 => Ok(shape[0]),
        Some(shape) => {
            bail!(
                "{}: tensor {key} has shape {shape:?}, expected [classes >= 2, {}]",
                state.path().display(),
                last.shape[1]
            )
        }
        None => bail!("{}: does not fit {}: no tensor {key}", state.path().display(), spec.architecture),
    }
}

/// csrs's name for an architecture as PyTorch code names it
/// (`cifar_resnet110`, `resnet50`).
fn pytorch_architecture(name: &str) -> anyhow::Result<Architecture> {
    Ok(name.to_lowercase().replace('_', "-").parse()?)
}
