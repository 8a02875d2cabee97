//! The standard normal distribution function Φ and its inverse.

use statrs::distribution::{ContinuousCDF, Normal};

fn standard() -> Normal {
    Normal::standard()
}

/// Φ(x), the standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    standard().cdf(x)
}

/// Φ⁻¹(p), the standard normal quantile: −∞ at 0, +∞ at 1, NaN outside [0, 1].
///
/// # Examples
/// ```
/// let z = csrs_stats::normal_ppf(0.975);
/// assert!((z - 1.959963984540054).abs() < 1e-12);
/// assert_eq!(csrs_stats::normal_ppf(0.0), f64::NEG_INFINITY);
/// ```
pub fn normal_ppf(p: f64) -> f64 {
    match p {
        0.0 => f64::NEG_INFINITY,
        1.0 => f64::INFINITY,
        p if (0.0..1.0).contains(&p) => standard().inverse_cdf(p),
        _ => f64::NAN,
    }
}
