//! csrs checkpoints out as ONNX files, for onnxruntime and PyTorch: any
//! network csrs holds, its own architectures and graphs it imported alike,
//! so that what csrs trained runs elsewhere.

use std::path::Path;

use anyhow::Context;
use burn::prelude::Backend;
use csrs_models::Checkpoint;
use csrs_models::graph::Graph;
use csrs_models::interop::torch_tensors;

/// Writes `checkpoint`'s network to `path` as an ONNX model
/// ([`csrs_onnx::encode`]: opset [`csrs_onnx::WRITTEN_OPSET`], dynamic
/// batch, the normalisation among its nodes), whole or not at all.
///
/// # Errors
/// A tensor the model does not hold as its layers say, or a file that
/// cannot be written; nothing is written then.
pub fn export_onnx<B: Backend>(checkpoint: &Checkpoint<B>, path: &Path) -> anyhow::Result<()> {
    let spec = &checkpoint.meta.spec;
    let fail = |message: String| anyhow::anyhow!("cannot export {}: {message}", path.display());
    let tensors = torch_tensors(&checkpoint.model, spec).map_err(fail)?;
    let tensors = tensors.into_iter().map(|(parameter, values)| (parameter.torch, values)).collect();
    let bytes = csrs_onnx::encode(&Graph::of(spec), &tensors, &spec.mean, &spec.std).map_err(fail)?;
    csrs_artifacts::write_atomically(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}
