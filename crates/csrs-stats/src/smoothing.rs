//! The smoothing distribution a certificate is for, and the radii that a
//! class's probability under it buys.

use crate::{Alpha, Result, Sigma, normal_ppf};

/// The norm a certified radius is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// The Euclidean norm ‖δ‖₂.
    L2,
}

/// The noise a smoothed classifier adds to its inputs: its family and
/// scale, which fix the norm of its certificates and the radius each class
/// probability buys.
///
/// Each family writes its own radii (the `match`es below), so a family
/// added here cannot be certified with another's formulas: the compiler asks
/// for its radius. Samplers build their noise from a `Smoothing` too.
///
/// ```
/// use csrs_stats::{Norm, Smoothing};
///
/// let smoothing = Smoothing::gaussian(0.5)?;
/// assert_eq!(smoothing.norm(), Norm::L2);
/// // σ Φ⁻¹(0.975) = 0.5 × 1.96
/// assert!((smoothing.radius(0.975) - 0.98).abs() < 1e-3);
/// // σ/2 (Φ⁻¹(0.975) − Φ⁻¹(0.025)): the same, the runner-up at 1 − p.
/// assert!((smoothing.radius_against(0.975, 0.025) - 0.98).abs() < 1e-3);
/// # Ok::<(), csrs_stats::StatsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// Isotropic Gaussian noise N(0, σ² I), certifying ℓ₂ radii (Cohen et
    /// al., 2019).
    Gaussian(Sigma),
}

impl Smoothing {
    /// Gaussian smoothing at noise level σ.
    ///
    /// # Errors
    /// [`StatsError::Sigma`](crate::StatsError::Sigma) unless σ is finite
    /// and positive.
    pub fn gaussian(sigma: f64) -> Result<Self> {
        Sigma::new(sigma).map(Smoothing::Gaussian)
    }

    /// The noise's scale: σ of the Gaussian.
    pub fn sigma(self) -> Sigma {
        match self {
            Smoothing::Gaussian(sigma) => sigma,
        }
    }

    /// The norm of the radii this smoothing certifies.
    pub fn norm(self) -> Norm {
        match self {
            Smoothing::Gaussian(_) => Norm::L2,
        }
    }

    /// The radius within which a class of probability at least `p` keeps
    /// more than half of it, and so stays the prediction: σ Φ⁻¹(p) for the
    /// Gaussian. Positive for `p > ½`, infinite at 1; callers treat
    /// `p ≤ ½` as no radius.
    pub fn radius(self, p: f64) -> f64 {
        match self {
            Smoothing::Gaussian(sigma) => sigma.get() * normal_ppf(p),
        }
    }

    /// The radius within which a class of probability at least `p_top`
    /// stays more likely than any class of probability at most `p_other`:
    /// σ/2 (Φ⁻¹(p_top) − Φ⁻¹(p_other)) for the Gaussian. Not positive when
    /// `p_top ≤ p_other`.
    pub fn radius_against(self, p_top: f64, p_other: f64) -> f64 {
        match self {
            Smoothing::Gaussian(sigma) => sigma.get() / 2.0 * (normal_ppf(p_top) - normal_ppf(p_other)),
        }
    }
}

/// How Certify-CS spends α over its bounds (SPEC §4): α/2 on the predicted
/// class's, α/(2L) on each of the L harm levels', so that all of them hold
/// together with probability at least 1 − α.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CostSensitiveAlpha {
    /// The level of the predicted class's bound.
    pub(crate) top: Alpha,
    /// The level of each harm level's bound.
    pub(crate) level: Alpha,
}

impl CostSensitiveAlpha {
    /// The split of `alpha` over the top class and `levels` harm levels.
    ///
    /// # Panics
    /// If `levels == 0`: a row without harm is certified by Cohen's rule.
    pub(crate) fn new(alpha: Alpha, levels: usize) -> Self {
        CostSensitiveAlpha { top: alpha.split(2), level: alpha.split(2 * levels) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certify_cs_spends_half_of_alpha_on_the_top_class_and_the_rest_on_the_levels() {
        let split = CostSensitiveAlpha::new(Alpha::new(0.01).unwrap(), 4);
        assert_eq!(split.top.get(), 0.005);
        assert_eq!(split.level.get(), 0.01 / 8.0);
        assert!((split.top.get() + 4.0 * split.level.get() - 0.01).abs() < 1e-15);
    }

    #[test]
    fn the_gaussian_radii_against_the_runner_up_at_one_minus_p_are_cohens() {
        let smoothing = Smoothing::gaussian(0.25).unwrap();
        for p in [0.6, 0.9, 0.999] {
            assert!((smoothing.radius_against(p, 1.0 - p) - smoothing.radius(p)).abs() < 1e-12);
        }
        assert_eq!(smoothing.radius(1.0), f64::INFINITY);
        assert!(smoothing.radius(0.5) <= 0.0 && smoothing.radius_against(0.4, 0.4) <= 0.0);
    }
}
