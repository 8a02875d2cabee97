//! Weights in the formats other frameworks read and write: PyTorch
//! checkpoints in ([`import`]), safetensors with PyTorch's key names out
//! ([`export_safetensors`]), both mapped through the network's
//! [`Graph`](crate::graph::Graph).

mod export;
mod import;
mod state_dict;

pub use export::{export_denoiser_safetensors, export_safetensors, torch_tensors};
pub use import::{find_prefix, from_tensors, import, import_denoiser};
pub use state_dict::{MAX_IMPORT_BYTES, StateDict};
