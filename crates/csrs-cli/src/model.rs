//! `csrs model`: create, describe, import, export and check checkpoints.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::prelude::*;
use csrs_artifacts::TrainingFiles;
use csrs_data::DatasetName;
use csrs_models::interop::{export_denoiser_safetensors, export_safetensors};
use csrs_models::{
    Architecture, Checkpoint, CheckpointMeta, Classifier, Denoiser, DenoiserCheckpoint, DenoiserMeta, DenoiserNet,
    DenoiserSpec, ModelSpec,
};

use crate::io::check_outputs;
use crate::options::ImportOptions;
use csrs_run::{
    DeviceChoice, OnBackend, export_denoiser_onnx, export_onnx, import_file, import_onnx, is_onnx, load_model,
    on_backend,
};

/// Create, inspect, import and export model checkpoints.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Init(InitArgs),
    Show(ShowArgs),
    Import(ImportArgs),
    Export(ExportArgs),
    Logits(LogitsArgs),
}

/// Create a randomly initialised checkpoint (<OUT>.json and <OUT>.mpk) for a
/// dataset, so certification can run end to end before any training; with
/// --arch dncnn, a denoiser of the dataset's images (He's initialisation),
/// for `certify --denoiser` or to train further.
///
/// An existing checkpoint at <OUT> is refused unless --force; each file is
/// written whole or not at all.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  csrs model init --arch digits-cnn --dataset digits --out models/digits-cnn\n  \
                  csrs model init --arch dncnn --depth 5 --width 32 --dataset digits --out models/digits-dncnn")]
struct InitArgs {
    /// Architecture: mlp, lenet5, digits-cnn, cifar-resnet20/32/44/56/110, resnet18, resnet50; or dncnn, a denoiser of the dataset's images (for certify --denoiser; sized by --depth and --width)
    #[arg(long, value_name = "NAME")]
    arch: Network,
    /// Convolutions of a dncnn denoiser, the first and last included [default: 17]
    #[arg(long, value_name = "N")]
    depth: Option<usize>,
    /// Channels of a dncnn denoiser's hidden layers [default: 64]
    #[arg(long, value_name = "N")]
    width: Option<usize>,
    /// Dataset the model is for (sets the input shape, classes and normalisation)
    #[arg(long, value_name = "NAME")]
    dataset: DatasetName,
    /// Checkpoint path without extension; an existing checkpoint there is refused unless --force
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Replace an existing checkpoint at --out
    #[arg(long)]
    force: bool,
    /// Seed of the random weights
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of classes, for datasets whose classes are the folders of their data (imagenet: 1000)
    #[arg(long, value_name = "N")]
    classes: Option<usize>,
}

/// Print what a checkpoint is: architecture, dataset, classes, training.
#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// Checkpoint path (with or without .json/.mpk)
    #[arg(value_name = "PATH")]
    checkpoint: PathBuf,
}

/// Turn a PyTorch checkpoint, a safetensors file or an ONNX file into a
/// csrs checkpoint (<OUT>.json and <OUT>.mpk).
///
/// An ONNX file (torch.onnx.export) holds its network: any CNN of the
/// operators csrs reads (convolutions of any groups, batch norm, ReLU,
/// leaky ReLU, sigmoid, arithmetic, pooling, linear layers, concat) is
/// imported with its layers, and takes pixels in [0, 1] as it is; its
/// normalisation is whatever the graph does, plus --mean/--std only when
/// given. `model show` prints its layers. Imported graphs are certified,
/// not trained.
///
/// Reads `{"arch", "state_dict"}` files with keys prefixed `1.module.` (Cohen
/// et al.), `{"net": ...}` or `{"state_dict": ...}` with keys prefixed `1.` or
/// `module.` (MACER, SmoothAdv, SmoothMix), and bare state dicts, in the
/// layouts of the CIFAR ResNets of depth 6n+2 (conv1, bn1, layer1-3, fc) and
/// torchvision's ResNet-18/50. The input normalisation is not in the file: it
/// comes from --dataset (CIFAR-10 and ImageNet as in Cohen et al.'s code),
/// or --mean/--std, and is stored in the checkpoint, so sigma stays in pixel
/// units.
///
/// An existing checkpoint at <OUT> is refused unless --force (the imported
/// file itself always is); each file is written whole or not at all.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  csrs model import models/cifar10/resnet110/noise_0.25/checkpoint.pth.tar \\\n      \
                        --arch cifar-resnet110 --dataset cifar10 --out models/cohen-resnet110-025"
)]
struct ImportArgs {
    /// The PyTorch checkpoint (.pth, .pt, .pth.tar, .ckpt, .bin), .safetensors or .onnx file
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Dataset the model is for (input shape, classes, normalisation)
    #[arg(long, value_name = "NAME")]
    dataset: DatasetName,
    #[command(flatten)]
    import: ImportOptions,
    /// Checkpoint path without extension; an existing checkpoint there is refused unless --force, and the imported file always
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Replace an existing checkpoint at --out
    #[arg(long)]
    force: bool,
}

/// Write a model for PyTorch or onnxruntime.
///
/// --format safetensors: the weights, keyed by the PyTorch names of the
/// model's layout (e.g. conv1.weight, layer1.0.bn1.running_mean, fc.bias),
/// loadable with `net.load_state_dict(safetensors.torch.load_file(FILE))`;
/// the normalisation (mean, std) and the architecture are in the file's
/// metadata. Built-in architectures and DnCNN denoisers (Salman et al.'s
/// names, `dncnn.0.weight`, …) only: an imported network's layout is not
/// PyTorch's.
///
/// --format onnx: the whole network, any checkpoint (built-in or imported):
/// an ONNX model of opset 17 taking `input`, pixels in [0, 1] as
/// [batch, c, h, w] with the batch dynamic, and giving `logits`
/// [batch, classes] (a denoiser: `denoised`, images of the input's shape);
/// the normalisation is its first nodes, and the weights are named by their
/// PyTorch keys.
///
/// An existing --out file is refused unless --force (the model's own files
/// always are); it is written whole or not at all.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  csrs model export models/digits-gaussian-025 --format safetensors --out digits.safetensors\n  \
                  csrs model export models/digits-gaussian-025 --format onnx --out digits.onnx"
)]
struct ExportArgs {
    /// Checkpoint path (with or without .json/.mpk)
    #[arg(value_name = "MODEL")]
    checkpoint: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = ExportFormat::Safetensors)]
    format: ExportFormat,
    /// Output file; an existing file is refused unless --force, and the model's own files always
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace an existing --out file
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// safetensors with PyTorch key names
    Safetensors,
    /// ONNX (opset 17, dynamic batch) with the normalisation in the graph
    Onnx,
}

/// Print a model's logits for given inputs as JSON, `{"logits": [[...], ...]}`:
/// the way to check that an imported model computes what it did in PyTorch.
///
/// FILE.json holds `{"input_shape": [b, c, h, w], "inputs": [b*c*h*w pixel values in [0, 1]]}`
/// (other keys are ignored, so a file that also holds PyTorch's logits can be passed as it is).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  csrs model logits checkpoint.pth.tar --arch cifar-resnet20 --dataset cifar10 --inputs inputs.json\n  csrs model logits wrn.onnx --inputs inputs.json"
)]
struct LogitsArgs {
    /// A csrs checkpoint, a PyTorch/safetensors file (then --dataset is needed) or an ONNX file
    #[arg(value_name = "MODEL")]
    model: PathBuf,
    /// The inputs, as JSON
    #[arg(long, value_name = "FILE.json")]
    inputs: PathBuf,
    /// Dataset of a PyTorch/safetensors model (input shape, classes, normalisation); an ONNX model's input shape is the inputs'
    #[arg(long, value_name = "NAME")]
    dataset: Option<DatasetName>,
    #[command(flatten)]
    import: ImportOptions,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Init(args) => on_backend(DeviceChoice::Cpu, args),
            Command::Show(args) => on_backend(DeviceChoice::Cpu, args),
            Command::Import(args) => on_backend(DeviceChoice::Cpu, args),
            Command::Export(args) => on_backend(DeviceChoice::Cpu, args),
            Command::Logits(args) => on_backend(DeviceChoice::Cpu, args),
        }
    }
}

/// What `model init --arch` names: a classifier, or a denoiser.
#[derive(Debug, Clone, Copy)]
enum Network {
    Classifier(Architecture),
    Dncnn,
}

impl std::str::FromStr for Network {
    type Err = csrs_models::ModelError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "dncnn" => Ok(Network::Dncnn),
            name => name.parse().map(Network::Classifier),
        }
    }
}

impl OnBackend for InitArgs {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        check_outputs(&checkpoint_outputs(&self.out), &[] as &[&Path], self.force)?;
        let arch = match self.arch {
            Network::Dncnn => return self.init_denoiser::<B>(device),
            Network::Classifier(arch) => arch,
        };
        for (flag, given) in [("depth", self.depth.is_some()), ("width", self.width.is_some())] {
            if given {
                bail!("--{flag} sizes a dncnn denoiser; --arch {arch} is a classifier");
            }
        }
        let class_names = match (self.dataset.class_names(), self.classes) {
            (Some(names), None) => names,
            (Some(names), Some(classes)) if names.len() == classes => names,
            (Some(names), Some(classes)) => {
                bail!("--classes {classes}, but {} has {} classes", self.dataset, names.len())
            }
            (None, Some(classes)) => (0..classes).map(|k| k.to_string()).collect(),
            (None, None) => bail!("{}: its classes are the folders of its data; give --classes N", self.dataset),
        };
        let spec = ModelSpec::for_dataset(arch, self.dataset, class_names.len());
        B::seed(&device, self.seed);
        let model = Classifier::<B>::init(&spec, &device)?;
        let checkpoint = Checkpoint { meta: CheckpointMeta::new(spec, self.dataset.as_str(), class_names), model };
        checkpoint.save(&self.out).with_context(|| format!("saving {}", self.out.display()))?;
        eprintln!("wrote {} ({arch} for {}, untrained)", checkpoint_files(&self.out), self.dataset);
        Ok(())
    }
}

impl InitArgs {
    /// A DnCNN for the dataset's images.
    fn init_denoiser<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        if self.classes.is_some() {
            bail!("--classes applies to classifiers; a dncnn denoiser makes images");
        }
        let network = DenoiserNet::Dncnn {
            depth: self.depth.unwrap_or(DenoiserNet::DNCNN_DEPTH),
            width: self.width.unwrap_or(DenoiserNet::DNCNN_WIDTH),
        };
        let shape = self.dataset.shape();
        let spec = DenoiserSpec { input_shape: [shape.channels, shape.height, shape.width], network };
        B::seed(&device, self.seed);
        let model = Denoiser::<B>::init(&spec, &device)?;
        let checkpoint = DenoiserCheckpoint { meta: DenoiserMeta::new(spec, self.dataset.as_str()), model };
        checkpoint.save(&self.out).with_context(|| format!("saving {}", self.out.display()))?;
        eprintln!("wrote {} (dncnn denoiser for {}, untrained)", checkpoint_files(&self.out), self.dataset);
        Ok(())
    }
}

impl OnBackend for ShowArgs {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        let text = if DenoiserMeta::read(&self.checkpoint).is_ok() {
            serde_json::to_string_pretty(&DenoiserCheckpoint::<B>::load(&self.checkpoint, &device)?.meta)?
        } else {
            serde_json::to_string_pretty(&Checkpoint::<B>::load(&self.checkpoint, None, &device)?.meta)?
        };
        writeln!(std::io::stdout(), "{text}")?;
        Ok(())
    }
}

impl OnBackend for ImportArgs {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        check_outputs(&checkpoint_outputs(&self.out), &[&self.file], self.force)?;
        let checkpoint = import_file::<B>(&self.file, self.dataset, &self.import.get(), &device)?;
        checkpoint.save(&self.out).with_context(|| format!("saving {}", self.out.display()))?;
        let spec = &checkpoint.meta.spec;
        eprintln!(
            "wrote {} ({} for {}, {} classes, mean {:?}, std {:?})",
            checkpoint_files(&self.out),
            spec.architecture,
            self.dataset,
            spec.n_classes,
            spec.mean,
            spec.std
        );
        Ok(())
    }
}

impl OnBackend for ExportArgs {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        check_outputs(&[&self.out], &checkpoint_outputs(&self.checkpoint), self.force)?;
        if DenoiserMeta::read(&self.checkpoint).is_ok() {
            return self.export_denoiser::<B>(device);
        }
        let checkpoint = Checkpoint::<B>::load(&self.checkpoint, None, &device)?;
        let meta = &checkpoint.meta;
        let extra = [("dataset", meta.dataset.clone()), ("class_names", serde_json::to_string(&meta.class_names)?)];
        let spec = &meta.spec;
        match self.format {
            ExportFormat::Safetensors => {
                export_safetensors(&checkpoint.model, spec, &extra, &self.out)?;
                eprintln!("wrote {} ({} with PyTorch key names)", self.out.display(), spec.architecture);
            }
            ExportFormat::Onnx => {
                export_onnx(&checkpoint, &self.out)?;
                eprintln!("wrote {} ({} as ONNX)", self.out.display(), spec.architecture);
            }
        }
        Ok(())
    }
}

impl ExportArgs {
    fn export_denoiser<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        let checkpoint = DenoiserCheckpoint::<B>::load(&self.checkpoint, &device)?;
        let meta = &checkpoint.meta;
        let name = meta.denoiser.network.name();
        match self.format {
            ExportFormat::Safetensors => {
                let extra = [("dataset", meta.dataset.clone())];
                export_denoiser_safetensors(&checkpoint.model, &meta.denoiser, &extra, &self.out)?;
                eprintln!("wrote {} ({name} denoiser with PyTorch key names)", self.out.display());
            }
            ExportFormat::Onnx => {
                export_denoiser_onnx(&checkpoint, &self.out)?;
                eprintln!("wrote {} ({name} denoiser as ONNX)", self.out.display());
            }
        }
        Ok(())
    }
}

/// What `model logits --inputs` reads.
#[derive(Debug, serde::Deserialize)]
struct Inputs {
    input_shape: [usize; 4],
    inputs: Vec<f32>,
}

fn read_inputs(path: &Path) -> anyhow::Result<Inputs> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let inputs: Inputs = serde_json::from_str(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
    let shape = inputs.input_shape;
    if shape.contains(&0) {
        bail!("{}: input_shape {shape:?}, expected sides of 1 or more", path.display());
    }
    let expected = shape
        .iter()
        .try_fold(1usize, |n, &side| n.checked_mul(side))
        .filter(|&n| n <= isize::MAX as usize / size_of::<f32>())
        .ok_or_else(|| {
            anyhow::anyhow!("{}: input_shape {shape:?} has more values than csrs can hold", path.display())
        })?;
    if inputs.inputs.len() != expected {
        bail!(
            "{}: {} input values, expected {expected} for input_shape {:?}",
            path.display(),
            inputs.inputs.len(),
            inputs.input_shape
        );
    }
    if let Some(v) = inputs.inputs.iter().find(|v| !v.is_finite()) {
        bail!("{}: input value {v}, expected finite pixel values", path.display());
    }
    Ok(inputs)
}

impl OnBackend for LogitsArgs {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        let inputs = read_inputs(&self.inputs)?;
        let [batch, c, h, w] = inputs.input_shape;
        let checkpoint = match self.dataset {
            None if is_onnx(&self.model) => {
                import_onnx::<B>(&self.model, [c, h, w], None, &self.import.get(), &device)?
            }
            dataset => load_model::<B>(&self.model, dataset, &self.import.get(), None, &device)?,
        };
        let spec = &checkpoint.meta.spec;
        if [c, h, w] != spec.input_shape {
            bail!(
                "{}: inputs of shape {:?}, but the model takes {:?}",
                self.inputs.display(),
                [c, h, w],
                spec.input_shape
            );
        }
        let images = Tensor::<B, 1>::from_floats(inputs.inputs.as_slice(), &device).reshape([batch, c, h, w]);
        let logits =
            checkpoint.model.forward(images).into_data().into_vec::<f32>().map_err(|err| anyhow::anyhow!("{err:?}"))?;
        let rows: Vec<&[f32]> = logits.chunks(spec.n_classes).collect();
        writeln!(std::io::stdout(), "{}", serde_json::json!({ "logits": rows }))?;
        Ok(())
    }
}

/// The two files of the checkpoint at `path`.
pub(crate) fn checkpoint_outputs(path: &Path) -> [PathBuf; 2] {
    let files = TrainingFiles::new(path);
    [files.metadata(), files.weights()]
}

/// The two files of the checkpoint at `out`, for messages.
pub(crate) fn checkpoint_files(out: &Path) -> String {
    let files = TrainingFiles::new(out);
    format!("{} and {}", files.metadata().display(), files.weights().display())
}
