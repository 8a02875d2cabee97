//! End-to-end tests of the `csrs` binary, run in fresh temporary folders.

mod analyze;
mod certify;
mod certify_counts;
mod cost;
mod denoise;
mod files;
mod finetune;
mod model;
mod onnx;
mod plan;
mod train;
mod train_denoiser;
mod util;
