//! csrs-onnx's integration tests, one binary: exported networks read and
//! run against PyTorch's logits, hostile files refused, refusals named,
//! and networks written back.

mod fixtures;
mod hostile;
mod refusals;
mod write;
