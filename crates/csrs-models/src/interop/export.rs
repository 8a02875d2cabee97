//! csrs models out as safetensors files with PyTorch's key names.

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;
use burn_store::ModuleSnapshot;
use safetensors::{Dtype, tensor::TensorView};

use super::import::{burn_path, transpose};
use crate::checkpoint::write_atomically;
use crate::graph::{Parameter, Storage};
use crate::{Classifier, Denoiser, DenoiserNet, DenoiserSpec, ModelError, ModelSpec, Result};

/// Writes `model`'s weights to `path` as a safetensors file keyed by the
/// PyTorch names of [`ModelSpec::parameters`], so that
/// `net.load_state_dict(safetensors.torch.load_file(path))` loads them into
/// the PyTorch network of the same layout.
///
/// The normalisation is not a tensor of that network: the file's metadata
/// holds it (`mean`, `std`), with `architecture`, `n_classes`,
/// `input_shape` and whatever `extra` adds (e.g. the dataset).
///
/// # Errors
/// [`ModelError::Export`] or [`ModelError::Io`] naming `path`; nothing is
/// written then.
pub fn export_safetensors<B: Backend>(
    model: &Classifier<B>,
    spec: &ModelSpec,
    extra: &[(&str, String)],
    path: &Path,
) -> Result<()> {
    let bad = |message: String| ModelError::Export { path: path.to_owned(), message };
    if spec.architecture == crate::Architecture::Imported {
        // Its layers are not a PyTorch layout csrs knows: the ONNX file it
        // came from is the network for other frameworks.
        return Err(bad("an imported network has no PyTorch layout; the ONNX file it came from is its export".into()));
    }
    let mut buffers: Vec<Buffer> = Vec::new();
    for parameter in spec.parameters() {
        if parameter.storage == Storage::TorchOnly {
            // PyTorch counts batches seen in training; inference ignores it.
            buffers.push((parameter.torch, Dtype::I64, parameter.shape, 0_i64.to_le_bytes().to_vec()));
        }
    }
    for (parameter, values) in torch_tensors(model, spec).map_err(bad)? {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((parameter.torch, Dtype::F32, parameter.shape, bytes));
    }
    let metadata: HashMap<String, String> = HashMap::from([
        ("architecture".to_owned(), spec.architecture.to_string()),
        ("n_classes".to_owned(), spec.n_classes.to_string()),
        ("input_shape".to_owned(), json(&spec.input_shape)),
        ("mean".to_owned(), json(&spec.mean)),
        ("std".to_owned(), json(&spec.std)),
    ]);
    write(path, &buffers, metadata, extra)
}

/// Writes a DnCNN denoiser's weights to `path` as a safetensors file keyed
/// by Salman et al.'s PyTorch names (`dncnn.0.weight`, …), batch norm's
/// batch counters included, so that their `DnCNN` loads it; the file's
/// metadata holds `architecture` (`dncnn`), `depth`, `width`,
/// `input_shape` and whatever `extra` adds.
///
/// # Errors
/// [`ModelError::Export`] for an imported denoiser (its ONNX file is its
/// export), or [`ModelError::Io`] naming `path`; nothing is written then.
pub fn export_denoiser_safetensors<B: Backend>(
    model: &Denoiser<B>,
    spec: &DenoiserSpec,
    extra: &[(&str, String)],
    path: &Path,
) -> Result<()> {
    let &DenoiserNet::Dncnn { depth, width } = &spec.network else {
        let message = "an imported denoiser has no PyTorch layout; the ONNX file it came from is its export";
        return Err(ModelError::Export { path: path.to_owned(), message: message.into() });
    };
    let mut values: HashMap<String, Vec<f32>> =
        model.torch_tensors(spec).into_iter().map(|(parameter, values)| (parameter.torch, values)).collect();
    let mut buffers = Vec::new();
    for parameter in spec.graph().parameters() {
        buffers.push(match values.remove(&parameter.torch) {
            Some(values) => {
                (parameter.torch, Dtype::F32, parameter.shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
            }
            None => (parameter.torch, Dtype::I64, parameter.shape, 0_i64.to_le_bytes().to_vec()),
        });
    }
    let metadata = HashMap::from([
        ("architecture".to_owned(), "dncnn".to_owned()),
        ("depth".to_owned(), depth.to_string()),
        ("width".to_owned(), width.to_string()),
        ("input_shape".to_owned(), json(&spec.input_shape)),
    ]);
    write(path, &buffers, metadata, extra)
}

/// A tensor to write: its name, type, shape and little-endian bytes.
type Buffer = (String, Dtype, Vec<usize>, Vec<u8>);

/// Writes `buffers` as a safetensors file (PyTorch's `format`), with
/// `metadata` and `extra` in its header, whole or not at all.
fn write(
    path: &Path,
    buffers: &[Buffer],
    mut metadata: HashMap<String, String>,
    extra: &[(&str, String)],
) -> Result<()> {
    let bad = |message: String| ModelError::Export { path: path.to_owned(), message };
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad(err.to_string()))?;
    metadata.insert("format".to_owned(), "pt".to_owned());
    metadata.extend(extra.iter().map(|(key, value)| ((*key).to_owned(), value.clone())));
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|err| bad(err.to_string()))?;
    write_atomically(path, &bytes)
}

/// The model's tensors in PyTorch's names and layout, in
/// [`ModelSpec::parameters`] order (without PyTorch-only buffers): what an
/// export writes and what an inference engine reads.
///
/// # Errors
/// A message naming a tensor the model does not hold as described (a bug).
pub fn torch_tensors<B: Backend>(
    model: &Classifier<B>,
    spec: &ModelSpec,
) -> std::result::Result<Vec<(Parameter, Vec<f32>)>, String> {
    let tensors: HashMap<String, _> =
        model.collect(None, None, true).into_iter().map(|snapshot| (snapshot.full_path(), snapshot)).collect();
    let mut out = Vec::new();
    for parameter in spec.parameters().into_iter().filter(|p| p.storage != Storage::TorchOnly) {
        let burn = burn_path(&parameter);
        let snapshot = tensors.get(&burn).ok_or_else(|| format!("the model has no tensor {burn}"))?;
        let values = snapshot
            .to_data()
            .map_err(|err| format!("tensor {burn}: {err}"))?
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|err| format!("tensor {burn}: {err:?}"))?;
        let values = match parameter.storage {
            Storage::Transposed => transpose(&values, parameter.shape[1], parameter.shape[0]).0,
            _ => values,
        };
        out.push((parameter, values));
    }
    Ok(out)
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("numbers serialize")
}
