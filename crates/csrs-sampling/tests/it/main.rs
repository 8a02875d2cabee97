//! Sampling tests: soundness against known probabilities, and the
//! determinism of the burn and native counters.

mod burn_counter;
mod native_counter;
mod own_models;
mod sound_noise;
mod soundness;

/// Asserts that two class counts of the same n are draws of the same
/// distribution: over the classes with at least 20 draws in all (at least
/// two of them), the two-sample chi-square statistic is below 27.9, its
/// 0.001 quantile with 9 degrees of freedom.
pub(crate) fn assert_same_distribution(a: &[u64], b: &[u64]) {
    let mut chi_square = 0.0;
    let mut cells = 0;
    for (&x, &y) in a.iter().zip(b) {
        if x + y >= 20 {
            let expected = (x + y) as f64 / 2.0;
            chi_square += ((x as f64 - expected).powi(2) + (y as f64 - expected).powi(2)) / expected;
            cells += 1;
        }
    }
    assert!(cells >= 2, "too few classes to compare: {a:?}, {b:?}");
    assert!(chi_square < 27.9, "chi-square {chi_square} over {cells} classes: {a:?}, {b:?}");
}
