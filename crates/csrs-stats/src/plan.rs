//! Planning a certification before drawing a sample: what n draws at level
//! α and noise σ can certify at best, and what a target radius needs.
//!
//! The best an input can do is to have every estimation draw vote for its
//! predicted class and none for a harmful one. The bounds [`certify`] takes
//! on such counts give the largest radius a run can certify; that radius
//! grows with n, so the draws a target radius needs follow by search.
//!
//! [`certify`]: crate::certify

use crate::smoothing::CostSensitiveAlpha;
use crate::{Alpha, BinomialSample, Radius, Smoothing};

/// Which certificate a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Cohen's CERTIFY: the top class's lower bound at α.
    Standard,
    /// Certify-CS for a cost row with `levels` distinct positive costs: the
    /// top class's bound at α/2, each level's upper bound at α/(2·levels).
    CostSensitive {
        /// Distinct positive costs L of the row (at least 1).
        levels: usize,
    },
}

/// The radius of `top` draws of `n` for the predicted class, and none for a
/// harmful class (cost-sensitive mode: its radius at level 0), as
/// [`certify`](crate::certify) computes it; `None` when nothing is certified.
///
/// # Panics
/// If `top > n`, `n == 0`, or a cost-sensitive mode has 0 levels.
pub fn radius_of(mode: Mode, top: u64, n: u64, alpha: Alpha, smoothing: Smoothing) -> Option<Radius> {
    let sample = BinomialSample::new(top, n).expect("top <= n, n > 0");
    let radius = match mode {
        Mode::Standard => {
            let p_lower = sample.lower(alpha);
            if p_lower <= 0.5 {
                return None;
            }
            smoothing.radius(p_lower)
        }
        Mode::CostSensitive { levels } => {
            let split = CostSensitiveAlpha::new(alpha, levels);
            let p_lower = sample.lower(split.top);
            let harmful = BinomialSample::new(0, n).expect("n > 0");
            let p_upper = harmful.upper(split.level).min(1.0 - p_lower);
            smoothing.radius_against(p_lower, p_upper)
        }
    };
    Radius::new(radius)
}

/// The largest radius any input can get from `n` draws: all of them for
/// its predicted class.
///
/// # Panics
/// As [`radius_of`].
pub fn max_radius(mode: Mode, n: u64, alpha: Alpha, smoothing: Smoothing) -> Option<Radius> {
    radius_of(mode, n, n, alpha, smoothing)
}

/// The most draws a plan considers: 2³⁰, about 10⁹, ten thousand times a
/// paper-scale certificate.
pub const MAX_DRAWS: u64 = 1 << 30;

/// The fewest draws with which some input can be certified at `target`, or
/// `None` beyond [`MAX_DRAWS`].
pub fn draws_needed(mode: Mode, target: f64, alpha: Alpha, smoothing: Smoothing) -> Option<u64> {
    let reaches = |n: u64| max_radius(mode, n, alpha, smoothing).is_some_and(|r| r.get() >= target);
    let mut high = 1u64;
    while !reaches(high) {
        high = high.checked_mul(2).filter(|&n| n <= MAX_DRAWS)?;
    }
    // reaches(high); find the first n in (high / 2, high] that does.
    let mut low = high / 2;
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if reaches(middle) { high = middle } else { low = middle }
    }
    Some(high)
}

/// The fewest of `n` draws the predicted class needs (none for a harmful
/// class) for a radius of at least `target`; `None` when all n are not
/// enough.
///
/// # Panics
/// As [`radius_of`].
pub fn top_draws_needed(mode: Mode, target: f64, n: u64, alpha: Alpha, smoothing: Smoothing) -> Option<u64> {
    let reaches = |top: u64| radius_of(mode, top, n, alpha, smoothing).is_some_and(|r| r.get() >= target);
    if !reaches(n) {
        return None;
    }
    let (mut low, mut high) = (0, n);
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if reaches(middle) { high = middle } else { low = middle }
    }
    Some(if reaches(low) { low } else { high })
}
