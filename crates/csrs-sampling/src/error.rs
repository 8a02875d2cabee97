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
    /// A model of another framework failed; its own message.
    #[error("{0}")]
    Model(String),
    /// A model that returned another number of classes than it was given
    /// inputs.
    #[error("the model returned {got} classes for {expected} inputs, expected one class per input")]
    Classes {
        /// Classes returned.
        got: usize,
        /// Inputs given.
        expected: usize,
    },
    /// A model that returned a class it does not have.
    #[error("the model returned class {class}, expected a class below {n_classes}")]
    Class {
        /// The class returned.
        class: usize,
        /// Classes of the model.
        n_classes: usize,
    },
    /// A model drawing its own noise that returned another number of rows
    /// of counts than there were blocks.
    #[error("the model returned counts of {got} blocks, expected {expected} (the blocks of the batch)")]
    BlockCounts {
        /// Rows returned.
        got: usize,
        /// Blocks in the batch.
        expected: usize,
    },
    /// A block's counts that are not one per class, or do not total its
    /// draws.
    #[error(
        "the model returned {classes} counts totalling {total} for a block of {size} draws, expected {n_classes} counts totalling {size}"
    )]
    BlockTotal {
        /// Counts in the row.
        classes: usize,
        /// Their total.
        total: u64,
        /// Classes of the model.
        n_classes: usize,
        /// Draws in the block.
        size: usize,
    },
    /// Sound noise asked of a model that draws its own noise.
    #[error(
        "sound noise is formed by csrs on the 8-bit grid; a model that draws its own noise takes gaussian noise only"
    )]
    OwnNoise,
    /// The statistics rejected the counts.
    #[error(transparent)]
    Stats(#[from] csrs_stats::StatsError),
}
