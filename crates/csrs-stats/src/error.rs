//! The error type of the crate: inputs that cannot be certified.

/// A `Result` whose error is a [`StatsError`].
pub type Result<T, E = StatsError> = std::result::Result<T, E>;

/// Why counts or parameters were rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// α outside the open interval (0, 1).
    #[error("alpha is {0}, expected a number in (0, 1)")]
    Alpha(f64),
    /// σ that is not a positive finite number.
    #[error("sigma is {0}, expected a finite number > 0")]
    Sigma(f64),
    /// A binomial sample with more successes than trials.
    #[error("{successes} successes in {trials} trials, expected successes <= trials")]
    SuccessesExceedTrials {
        /// Successes given.
        successes: u64,
        /// Trials given.
        trials: u64,
    },
    /// No samples at all.
    #[error("no samples, expected at least one")]
    NoSamples,
    /// Counts over fewer than two classes.
    #[error("counts over {0} classes, expected at least 2")]
    TooFewClasses(usize),
    /// Counts or a cost row over different numbers of classes.
    #[error("{what} has {got} classes, expected {expected}")]
    ClassCountMismatch {
        /// Which input disagrees.
        what: &'static str,
        /// Its class count.
        got: usize,
        /// The class count of the estimation counts.
        expected: usize,
    },
    /// Counts whose total does not fit in 64 bits.
    #[error("counts sum beyond 2^64")]
    Overflow,
}
