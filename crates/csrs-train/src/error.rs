//! The error type of the crate.

use std::path::PathBuf;

/// A `Result` whose error is a [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A cost-sensitive objective without a cost matrix, or a cost matrix
    /// for an objective that does not use one.
    #[error("method {method} {}", if *given { "does not use a cost matrix" } else { "needs a cost matrix" })]
    CostMatrix {
        /// The method, e.g. `macer-cs`.
        method: String,
        /// Whether a matrix was given.
        given: bool,
    },
    /// A classifier's objective for a denoiser, or a denoiser's for a
    /// classifier.
    #[error("method {method} {message}")]
    Objective {
        /// The method, e.g. `denoiser-mse`.
        method: String,
        /// What it trains, and what the run does.
        message: &'static str,
    },
    /// A checkpoint to resume from that holds another network than the
    /// run's configuration describes.
    #[error("{}: {message}; resume with the configuration that started the run, or start over", path.display())]
    Resume {
        /// The checkpoint's metadata.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// The loss became NaN or infinite.
    #[error("the loss is not finite at epoch {epoch}, batch {batch}; the last checkpoint is kept (try a smaller lr)")]
    NotFinite {
        /// Epoch, from 1.
        epoch: usize,
        /// Batch, from 1.
        batch: usize,
    },
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Model(#[from] csrs_models::ModelError),
    /// Training data could not be read.
    #[error(transparent)]
    Data(#[from] csrs_data::DataError),
    /// An optimiser state that could not be read or written.
    #[error("{}: optimiser state: {message}", path.display())]
    OptimizerState {
        /// The state's file.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// Data-parallel replicas that could not start or go on together.
    #[error("data-parallel training: {message}")]
    Replicas {
        /// What went wrong.
        message: String,
    },
    /// A file that could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
}
