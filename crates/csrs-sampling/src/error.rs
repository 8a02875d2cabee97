//! The error type of the crate.

/// A `Result` whose error is a [`SamplingError`].
pub type Result<T, E = SamplingError> = std::result::Result<T, E>;

/// Why sampling or certification failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SamplingError {
    /// An input whose size differs from the model's input.
    #[error("input has {got} values, expected {expected} (the model's input size)")]
    InputSize {
        /// Values given.
        got: usize,
        /// Values expected.
        expected: usize,
    },
    /// A cost row for another number of classes than the model's.
    #[error("cost row has {got} classes, expected {expected} (the model's classes)")]
    ClassCount {
        /// Classes of the cost row.
        got: usize,
        /// Classes of the model.
        expected: usize,
    },
    /// A network whose logits are over another number of classes than its
    /// counter counts.
    #[error("the model gives {got} logits per input, expected {expected} (the counter's classes)")]
    Logits {
        /// Logits per input.
        got: usize,
        /// Classes counted.
        expected: usize,
    },
    /// Zero draws requested.
    #[error("{what} is 0, expected at least one draw")]
    NoDraws {
        /// Which count (`n0` or `n`).
        what: &'static str,
    },
    /// Too many draws of sound noise for PREDICT's α: the drawn noise's
    /// distance from the exact one, over all draws, uses it up.
    #[error(
        "{n} draws of sound noise are {slack:.3e} from exact in total variation, which leaves nothing of alpha = {alpha}; use fewer draws"
    )]
    SlackExceedsAlpha {
        /// Draws.
        n: u64,
        /// Their distance from the exact noise.
        slack: f64,
        /// α.
        alpha: f64,
    },
    /// Class probabilities that are not a probability vector.
    #[error("class probabilities {0:?} are not a probability vector")]
    Probabilities(Vec<f64>),
    /// The statistics rejected the counts.
    #[error(transparent)]
    Stats(#[from] csrs_stats::StatsError),
}
