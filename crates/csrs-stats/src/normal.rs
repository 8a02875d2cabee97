//! The standard normal distribution function Φ and its inverse.

use statrs::distribution::{ContinuousCDF, Normal};

fn standard() -> Normal {
    Normal::standard()
}

/// Φ(x), the standard normal distribution function, as ½ erfc(−x/√2)
/// with the erfc of the C library (FreeBSD's, as ported by `libm`): within
/// a few units in the last place of Φ, in the tails too, where
/// `statrs`' Φ has errors near 10⁻¹⁰ relative. Noise on the grid
/// ([`GridGaussian`](crate::GridGaussian)) needs every threshold to 10⁻¹⁵.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
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
