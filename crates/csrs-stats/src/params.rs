//! The numbers that decide a certificate, validated once.

use crate::{Result, StatsError};

/// A failure probability α in (0, 1): a certificate is wrong with
/// probability at most α.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Alpha(f64);

impl Alpha {
    /// # Errors
    /// [`StatsError::Alpha`] unless `0 < alpha < 1`.
    ///
    /// # Examples
    /// ```
    /// use csrs_stats::Alpha;
    /// assert!(Alpha::new(0.001).is_ok());
    /// assert!(Alpha::new(0.0).is_err());
    /// assert!(Alpha::new(f64::NAN).is_err());
    /// ```
    pub fn new(alpha: f64) -> Result<Self> {
        if alpha > 0.0 && alpha < 1.0 { Ok(Alpha(alpha)) } else { Err(StatsError::Alpha(alpha)) }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }

    /// α / parts: the share of one of `parts` bounds that must hold together
    /// (Bonferroni).
    ///
    /// # Panics
    /// If `parts == 0`.
    pub fn split(self, parts: usize) -> Alpha {
        assert!(parts > 0, "alpha cannot be split into 0 parts");
        Alpha(self.0 / parts as f64)
    }
}

/// The noise level σ > 0 of randomized smoothing, in input units (pixels in
/// [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Sigma(f64);

impl Sigma {
    /// # Errors
    /// [`StatsError::Sigma`] unless σ is finite and positive.
    pub fn new(sigma: f64) -> Result<Self> {
        if sigma.is_finite() && sigma > 0.0 { Ok(Sigma(sigma)) } else { Err(StatsError::Sigma(sigma)) }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A certified ℓ₂ radius: finite and strictly positive.
///
/// A radius of 0 certifies nothing, so it is not a `Radius`; the outcome
/// types say "abstain" or "not certified" instead.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Radius(f64);

impl Radius {
    /// `Some` for a finite positive value, `None` otherwise (zero, negative,
    /// NaN, infinite).
    pub fn new(radius: f64) -> Option<Self> {
        (radius.is_finite() && radius > 0.0).then_some(Radius(radius))
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}
