//! Training base classifiers for (cost-sensitive) certified robustness
//! (SPEC §5).
//!
//! [`loss`] holds the objectives, each a function of logits on noisy copies:
//! Gaussian augmentation (Cohen et al.), its cost-sensitive reweighting,
//! MACER (Zhai et al.), the paper's cost-sensitive MACER and SmoothMix
//! (Jeong et al.); [`attack`] holds the ℓ₂ attack on the soft smoothed
//! classifier that SmoothAdv (Salman et al.) and SmoothMix train against.
//! [`noise`] forms the noisy copies, Gaussian or sound, as certification
//! does. [`batch_loss`] puts them together into one batch's loss under a
//! method, on noise drawn apart ([`batch_loss::Draws`]) so that it can be
//! computed on given noise too. [`normal`] provides Φ and Φ⁻¹ on tensors with exact gradients, which the
//! MACER margins need.
//! [`train`] runs the loop: noisy batches, the loss of the chosen method
//! ([`Objective`]), SGD or Adam with a schedule, a noisy test accuracy and a
//! checkpoint (with the optimiser's state, for `--resume`) after each epoch.
//! Everything is generic over the burn backend; training runs on an
//! autodiff backend.
//!
//! ```
//! use csrs_data::DatasetName;
//! use csrs_models::{Architecture, ModelSpec};
//! use csrs_sampling::NoiseKind;
//! use csrs_train::{Objective, OptimizerConfig, Schedule, TrainConfig};
//!
//! // The hyperparameters of `configs/train/digits-gaussian.toml`.
//! let config = TrainConfig {
//!     sigma: 0.25,
//!     noise: NoiseKind::Gaussian,
//!     epochs: 30,
//!     batch_size: 64,
//!     optimizer: OptimizerConfig::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 5e-4 },
//!     schedule: Schedule::Multistep { milestones: vec![20, 25], gamma: 0.1 },
//!     objective: Objective::Gaussian { cost_sensitive: None },
//!     augment: None,
//!     seed: 0,
//!     replicas: 1,
//!     freeze_batch_norm: false,
//! };
//! config.check()?;
//! assert!(TrainConfig { batch_size: 0, ..config.clone() }.check().is_err());
//! let spec = ModelSpec::for_dataset(Architecture::DigitsCnn, DatasetName::Digits, 10);
//! assert_eq!((spec.input_shape, spec.n_classes), ([1, 8, 8], 10));
//! # Ok::<(), csrs_train::ConfigError>(())
//! ```
#![deny(missing_docs)]

pub mod attack;
mod augment;
pub mod batch_loss;
mod config;
mod error;
pub mod loss;
pub mod noise;
pub mod normal;
mod trainee;
mod trainer;

pub use config::{
    CheckedConfig, ConfigError, MAX_COPIES_PER_STEP, MAX_REPLICAS, MacerSensitive, Objective, OptimizerConfig,
    Reweighting, Schedule, StabSensitive, TrainConfig,
};
pub use error::{Result, TrainError};
pub use trainee::{Denoised, Trainee};
pub use trainer::{EpochLog, Observer, TrainRun, train};
