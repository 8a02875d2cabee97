//! Monte Carlo sampling for randomized smoothing: from an input to class
//! counts, and from counts to certificates.
//!
//! - [`ClassCounter`]: anything that returns class counts for n noisy copies
//!   of an input. [`BurnCounter`] runs a [`Classifier`](csrs_models::Classifier),
//!   or any network that implements [`Forward`], on any burn backend with
//!   noise drawn, classified and counted on the device; only the m counts
//!   come back to the host. [`NativeCounter`] runs the network compiled by
//!   `csrs-engine` on the CPU threads, with counter-based (Philox) noise
//!   drawn by each thread into its part of the batch.
//!   [`ClassifyCounter`] counts with a model of another framework that
//!   classifies batches of the noisy copies csrs draws ([`Classify`]);
//!   [`SeededCounter`] with one that draws its own Gaussian noise where it
//!   runs, from the seed csrs gives each block ([`CountSeeded`]): the
//!   Python package's two counters.
//!   [`KnownProbabilities`] draws counts from exactly known class
//!   probabilities, for tests of soundness.
//! - [`NoiseStream`]: the noise of example i comes from its own stream,
//!   derived from (seed, i), in fixed blocks of [`BLOCK`] draws. Results do
//!   not depend on batch size, shards, threads or resumption.
//! - [`Smoothed`]: the smoothed classifier g, with `certify` (Certify-CS,
//!   SPEC §4), `certify_in_rounds` (the same, drawing until a [`StopRule`]
//!   is answered, with anytime-valid bounds) and `predict`, built on
//!   `csrs-stats`.
//!
//! The `models` feature (default) brings the counters of networks,
//! [`BurnCounter`] and [`NativeCounter`]; without it the crate builds
//! without tensors.
//!
//! A simulated counter needs no network; a [`BurnCounter`] over a
//! [`Classifier`](csrs_models::Classifier), or over a network of one's own
//! that implements [`Forward`], takes its place the same way.
//!
//! ```
//! use csrs_cost::CostRow;
//! use csrs_sampling::{KnownProbabilities, Noise, NoiseStream, Smoothed};
//! use csrs_stats::{Alpha, Sigma};
//!
//! // Three classes, class 0 with probability 0.9 under the noise, at every input.
//! let counter = KnownProbabilities::new(3, 4, |_: &[f32]| vec![0.9, 0.08, 0.02]);
//! let mut smoothed = Smoothed::new(counter, Noise::Gaussian(Sigma::new(0.25)?));
//! let costs = [0.0, 0.0, 1.0]; // taking class 0 for class 2 is harmful
//! let row = CostRow::new(&costs, 0)?;
//! let input = [0.5_f32; 4];
//! let certified = smoothed.certify(&input, Some(&row), Alpha::new(0.001)?, 100, 1000, NoiseStream::new(0, 0))?;
//! assert_eq!(certified.certificate.predicted, 0);
//! assert!(certified.certificate.standard.radius().is_some());
//! assert_eq!(certified.estimation.total(), 1000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod analytic;
#[cfg(feature = "models")]
mod burn_counter;
mod classify_counter;
mod counter;
#[cfg(feature = "models")]
pub mod device_noise;
mod error;
#[cfg(feature = "models")]
mod forward;
#[cfg(feature = "models")]
mod native_counter;
mod noise;
mod philox;
mod seeded_counter;
mod smoothed;
mod stream;

pub use analytic::KnownProbabilities;
#[cfg(feature = "models")]
pub use burn_counter::BurnCounter;
pub use classify_counter::{Classify, ClassifyCounter};
pub use counter::{ClassCounter, Draws};
pub use error::{Result, SamplingError};
#[cfg(feature = "models")]
pub use forward::Forward;
#[cfg(feature = "models")]
pub use native_counter::NativeCounter;
pub use noise::{Noise, NoiseKind};
pub use seeded_counter::{CountSeeded, SeededBatch, SeededBlock, SeededCounter};
pub use smoothed::{Certified, CertifiedInRounds, InRounds, Predicted, Rounds, Smoothed, StopRule, StopRuleError};
pub use stream::{BLOCK, NoiseStream, Phase};
