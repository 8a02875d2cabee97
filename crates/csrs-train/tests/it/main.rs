//! Losses on hand-made batches (computed independently here in f64), the
//! attack's guarantees, and short training runs.

mod attack;
mod denoiser;
mod losses;
mod noise;
mod normal;
mod torch_oracle;
mod training;

/// The flex backend has one random generator per process: tests that draw
/// from it take turns.
static BACKEND_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
