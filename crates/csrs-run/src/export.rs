//! csrs checkpoints out as ONNX files, for onnxruntime and PyTorch: any
//! network csrs holds, its own architectures and graphs it imported alike,
//! so that what csrs trained runs elsewhere.

use std::path::Path;

use anyhow::Context;
use burn::prelude::Backend;
use csrs_models::graph::{Graph, Parameter};
use csrs_models::interop::torch_tensors;
use csrs_models::{Checkpoint, DenoiserCheckpoint};

/// Writes `checkpoint`'s network to `path` as an ONNX model
/// ([`csrs_onnx::encode`]: opset [`csrs_onnx::WRITTEN_OPSET`], dynamic
/// batch, the normalisation among its nodes), whole or not at all.
///
/// # Errors
/// A tensor the model does not hold as its layers say, or a file that
/// cannot be written; nothing is written then.
pub fn export_onnx<B: Backend>(checkpoint: &Checkpoint<B>, path: &Path) -> anyhow::Result<()> {
    let spec = &checkpoint.meta.spec;
    let tensors = torch_tensors(&checkpoint.model, spec).map_err(|message| failed(path, message))?;
    write_onnx(&Graph::of(spec), tensors, &spec.mean, &spec.std, path)
}

/// Writes a denoiser to `path` as an ONNX model, as [`export_onnx`] a
/// classifier: input `input` and output `denoised`, both pixels in [0, 1]
/// of the images' shape.
///
/// # Errors
/// As [`export_onnx`].
pub fn export_denoiser_onnx<B: Backend>(checkpoint: &DenoiserCheckpoint<B>, path: &Path) -> anyhow::Result<()> {
    let spec = &checkpoint.meta.denoiser;
    let channels = spec.input_shape[0];
    let tensors = checkpoint.model.torch_tensors(spec);
    write_onnx(&spec.graph(), tensors, &vec![0.0; channels], &vec![1.0; channels], path)
}

fn write_onnx(
    graph: &Graph,
    tensors: Vec<(Parameter, Vec<f32>)>,
    mean: &[f32],
    std: &[f32],
    path: &Path,
) -> anyhow::Result<()> {
    let tensors = tensors.into_iter().map(|(parameter, values)| (parameter.torch, values)).collect();
    let bytes = csrs_onnx::encode(graph, &tensors, mean, std).map_err(|message| failed(path, message))?;
    csrs_artifacts::write_atomically(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn failed(path: &Path, message: String) -> anyhow::Error {
    anyhow::anyhow!("cannot export {}: {message}", path.display())
}
