//! Certification runs from Rust: every example of a dataset certified
//! ([`certify`]) or predicted ([`predict`]) by a smoothed classifier, into
//! records that are appended as each example is done, resume where a run
//! stopped, split over shards and hold their lock, exactly as the `csrs`
//! command's.
//!
//! The smoothed classifier is any [`ClassCounter`](csrs_sampling::ClassCounter)
//! with its noise ([`csrs_sampling::Smoothed`]): one of csrs's networks
//! ([`class_counter`]: the compiled CPU engine or burn), a network of your
//! own through [`csrs_sampling::BurnCounter`], or counts from elsewhere.
//! [`RunSettings`] says which examples, how many draws and where the
//! records go; the records' [`Settings`](csrs_records::Settings) are what a
//! resumed run must keep.
//!
//! ```no_run
//! use csrs_data::{DatasetName, Split};
//! use csrs_records::{RunIdentity, Settings};
//! use csrs_run::{Certify, DrawCount, RunSettings, certify};
//! use csrs_sampling::{ClassCounter, Noise, Smoothed};
//! use csrs_stats::{Alpha, Sigma};
//!
//! # fn run(counter: Box<dyn ClassCounter>) -> anyhow::Result<()> {
//! let dataset = csrs_data::load(DatasetName::Digits, Split::Test, None)?;
//! let mut smoothed = Smoothed::new(counter, Noise::Gaussian(Sigma::new(0.25)?));
//! let run = RunSettings { max: Some(20), ..RunSettings::new("digits.tsv".into(), Alpha::new(0.001)?, DrawCount::new(1000)?) };
//! let identity =
//!     RunIdentity { model: Some("mine".into()), sigma: Some(0.25), n0: Some(100), n: Some(1000), ..RunIdentity::default() };
//! let settings = Settings::for_identity(&identity)?;
//! let rows = certify(&run, &settings, &mut smoothed, &dataset, Certify { n0: DrawCount::new(100)?, cost: None, rule: None }, &mut ())?;
//! assert_eq!(rows.len(), 20);
//! # Ok(())
//! # }
//! ```

mod certify;
#[cfg(feature = "models")]
mod counter;
#[cfg(feature = "models")]
mod denoise;
#[cfg(feature = "models")]
pub mod device;
mod examples;
#[cfg(feature = "models")]
mod export;
mod grid;
#[cfg(feature = "models")]
mod import;
#[cfg(feature = "models")]
mod precision;
mod predict;
#[cfg(feature = "models")]
mod prepare;
mod settings;

pub use certify::{Certify, certify};
#[cfg(feature = "models")]
pub use counter::{Counting, class_counter};
#[cfg(feature = "models")]
pub use denoise::{denoise, load_denoised, load_denoiser};
#[cfg(feature = "models")]
pub use device::{DeviceChoice, OnBackend, on_backend};
pub use examples::Observer;
#[cfg(feature = "models")]
pub use export::{export_denoiser_onnx, export_onnx};
pub use grid::note_grid_distance;
#[cfg(feature = "models")]
pub use import::{Import, import_file, import_onnx, is_foreign, is_onnx, load_model};
#[cfg(feature = "models")]
pub use precision::Precision;
pub use predict::predict;
#[cfg(feature = "models")]
pub use prepare::{Prepared, Source, prepare};
pub use settings::{DrawCount, DrawCountError, MAX_BATCH, MAX_BATCH_BYTES, MAX_DRAWS, RunSettings, Shard, check_batch};
