//! Named tolerances and the comparison helper shared by the numeric tests.

/// Agreement required with the SciPy/statsmodels oracles.
pub(crate) const ORACLE_RELATIVE: f64 = 1e-9;

/// Below this, two values are both "underflowed to zero" (SciPy prints 0.0
/// for p-values under the smallest double).
pub(crate) const UNDERFLOW: f64 = 1e-300;

/// Whether `actual` agrees with `expected` to `ORACLE_RELATIVE`.
pub(crate) fn close(actual: f64, expected: f64) -> bool {
    actual == expected
        || (actual - expected).abs() <= ORACLE_RELATIVE * expected.abs()
        || (actual.abs() < UNDERFLOW && expected.abs() < UNDERFLOW)
}

#[track_caller]
pub(crate) fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(close(actual, expected), "{what}: got {actual:e}, expected {expected:e}");
}
