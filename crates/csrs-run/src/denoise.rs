//! Denoised smoothing: a denoiser, read from any file csrs reads a network
//! from, joined in front of a classifier so that the base classifier is
//! f(D(x + δ)).

use std::path::Path;

use anyhow::{Context, bail};
use burn::prelude::Backend;
use csrs_models::interop::{StateDict, import_denoiser};
use csrs_models::{
    Checkpoint, CheckpointMeta, Denoiser, DenoiserCheckpoint, DenoiserMeta, DenoiserNet, DenoiserSpec, denoised,
};

use crate::import::{Import, is_foreign, is_onnx, load_model};

/// The classifier at `model` (as [`load_model`] reads it), behind the
/// denoiser at `denoiser` when one is given: what `certify`, `predict`,
/// `bench` and `plan` smooth.
///
/// # Errors
/// As [`load_model`] and [`load_denoiser`], and a denoiser whose images
/// are not the classifier's input.
pub fn load_denoised<B: Backend>(
    model: &Path,
    denoiser: Option<&Path>,
    dataset: Option<csrs_data::DatasetName>,
    options: &Import,
    expected_classes: Option<usize>,
    device: &B::Device,
) -> anyhow::Result<Checkpoint<B>> {
    let classifier = load_model::<B>(model, dataset, options, expected_classes, device)?;
    let Some(path) = denoiser else {
        return Ok(classifier);
    };
    let dataset = dataset.map_or_else(|| classifier.meta.dataset.clone(), |d| d.as_str().to_owned());
    let denoiser = load_denoiser::<B>(path, classifier.meta.spec.input_shape, &dataset, device)?;
    denoise(classifier, &denoiser, device)
}

/// The denoiser at `path` for images of `input` (`dataset`'s, or the
/// classifier's it goes before): a csrs
/// checkpoint, an ONNX file whose output is an image of its input's
/// shape, or a PyTorch or safetensors file of a DnCNN (Salman et al.'s
/// layout, its depth and width read off its tensors).
///
/// # Errors
/// What reading the file says, or a denoiser of other images.
pub fn load_denoiser<B: Backend>(
    path: &Path,
    input: [usize; 3],
    dataset: &str,
    device: &B::Device,
) -> anyhow::Result<DenoiserCheckpoint<B>> {
    let imported = |denoiser: DenoiserSpec, model| {
        let mut meta = DenoiserMeta::new(denoiser, dataset);
        meta.imported_from = Some(path.display().to_string());
        DenoiserCheckpoint { meta, model }
    };
    let checkpoint = if is_onnx(path) {
        let network = csrs_onnx::read_denoiser(path, input)?;
        let spec = DenoiserSpec { input_shape: input, network: DenoiserNet::Imported { graph: network.graph } };
        let model = Denoiser::from_tensors(&spec, &network.weights, device)
            .with_context(|| format!("{}: as read", path.display()))?;
        imported(spec, model)
    } else if is_foreign(path) {
        let (spec, model) = import_denoiser(&StateDict::read(path)?, input, device)?;
        imported(spec, model)
    } else {
        DenoiserCheckpoint::load(path, device)?
    };
    let takes = checkpoint.meta.denoiser.input_shape;
    if takes != input {
        bail!("{}: the denoiser takes {takes:?} images, the model {input:?} ({dataset})", path.display());
    }
    Ok(checkpoint)
}

/// `classifier` behind `denoiser`, as one network with the classifier's
/// metadata (its classes; the training of the denoiser, where it has one,
/// since that is what was trained for the noise).
///
/// # Errors
/// A denoiser whose images are not the classifier's input.
pub fn denoise<B: Backend>(
    classifier: Checkpoint<B>,
    denoiser: &DenoiserCheckpoint<B>,
    device: &B::Device,
) -> anyhow::Result<Checkpoint<B>> {
    let (spec, model) =
        denoised((&denoiser.model, &denoiser.meta.denoiser), (&classifier.model, &classifier.meta.spec), device)?;
    let training = denoiser.meta.training.clone().or(classifier.meta.training);
    Ok(Checkpoint { meta: CheckpointMeta { spec, training, ..classifier.meta }, model })
}
