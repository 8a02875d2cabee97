//! Inverting binomial tails to full double precision.
//!
//! A one-sided Clopper–Pearson bound is the p at which a binomial tail
//! equals α. The textbook route, a Beta quantile, loses accuracy exactly
//! where certification lives: a handful of harmful draws among 10⁵–10⁶
//! samples. There the log-gamma prefactor of the incomplete beta function is
//! a difference of numbers near n·ln n, and the quantile routine stops early;
//! both errors were seen to make upper bounds come out *too small* (unsound)
//! by up to 4.5e-4 relative.
//!
//! So when the count (or its complement) is small, the tail is summed term by
//! term from an exactly computed binomial coefficient and solved for p by
//! safeguarded Newton iteration on its logarithm. Otherwise the Beta quantile
//! is polished by the same iteration on the regularized incomplete beta
//! function, whose errors no longer matter there.

use statrs::distribution::{Beta, Continuous};
use statrs::function::beta::beta_reg;

/// Counts up to this size take the exact tail sum.
const SMALL_COUNT: u64 = 100;

/// Summation stops when a term adds less than this, relative to the sum.
const SUM_EPSILON: f64 = 1e-17;

/// The one-sided lower bound: the p with P(X ≥ k) = a, X ~ Bin(n, p); 0 < k ≤ n.
pub(crate) fn lower_bound(k: u64, n: u64, a: f64) -> f64 {
    if k <= SMALL_COUNT {
        small_lower(k, n, a)
    } else if n - k <= SMALL_COUNT {
        // n − X ~ Bin(n, 1 − p): a lower bound on p is one minus an upper
        // bound on 1 − p.
        1.0 - small_upper(n - k, n, a)
    } else {
        polished_beta_quantile(k as f64, (n - k + 1) as f64, a)
    }
}

/// The one-sided upper bound: the p with P(X ≤ k) = a, X ~ Bin(n, p); 0 ≤ k < n.
pub(crate) fn upper_bound(k: u64, n: u64, a: f64) -> f64 {
    if k <= SMALL_COUNT {
        small_upper(k, n, a)
    } else if n - k <= SMALL_COUNT {
        1.0 - small_lower(n - k, n, a)
    } else {
        polished_beta_quantile((k + 1) as f64, (n - k) as f64, 1.0 - a)
    }
}

/// ln C(n, j), exactly summed for small j: no difference of huge log-gammas.
fn ln_choose_small(n: u64, j: u64) -> f64 {
    (1..=j).map(|i| ((n - j + i) as f64 / i as f64).ln()).sum()
}

/// ln P(X = k) for X ~ Bin(n, p), 0 < p < 1, small k.
fn ln_pmf_small(k: u64, n: u64, p: f64) -> f64 {
    ln_choose_small(n, k) + k as f64 * p.ln() + (n - k) as f64 * (-p).ln_1p()
}

/// Solves P(X ≤ k) = a for p; small k < n.
fn small_upper(k: u64, n: u64, a: f64) -> f64 {
    let start = beta_quantile_guess((k + 1) as f64, (n - k) as f64, 1.0 - a);
    // g(p) = ln P(X ≤ k) − ln a, decreasing in p.
    // P(X ≤ k) = pmf(k) · s, s = Σ_{i ≤ k} pmf(i) / pmf(k); dP/dp = −pmf(k)(n − k)/(1 − p).
    solve_decreasing(start, |p| {
        let odds = (1.0 - p) / p;
        let (mut term, mut s) = (1.0, 1.0);
        for i in (1..=k).rev() {
            term *= i as f64 / (n - i + 1) as f64 * odds;
            s += term;
            if term < SUM_EPSILON * s {
                break;
            }
        }
        let value = ln_pmf_small(k, n, p) + s.ln() - a.ln();
        let slope = -((n - k) as f64) / ((1.0 - p) * s);
        (value, slope)
    })
}

/// Solves P(X ≥ k) = a for p; small k > 0.
fn small_lower(k: u64, n: u64, a: f64) -> f64 {
    let start = beta_quantile_guess(k as f64, (n - k + 1) as f64, a);
    // g(p) = ln a − ln P(X ≥ k), decreasing in p.
    // P(X ≥ k) = pmf(k) · t, t = Σ_{i ≥ k} pmf(i) / pmf(k); dP/dp = pmf(k) k / p.
    solve_decreasing(start, |p| {
        let odds = p / (1.0 - p);
        let (mut term, mut t) = (1.0, 1.0);
        for i in k..n {
            term *= (n - i) as f64 / (i + 1) as f64 * odds;
            t += term;
            if term < SUM_EPSILON * t && (i + 1) as f64 > n as f64 * p {
                break;
            }
        }
        let value = a.ln() - (ln_pmf_small(k, n, p) + t.ln());
        let slope = -(k as f64) / (p * t);
        (value, slope)
    })
}

/// The Beta(a, b) quantile at `p`, refined to full precision.
fn polished_beta_quantile(a: f64, b: f64, p: f64) -> f64 {
    let beta = Beta::new(a, b).expect("shape parameters are positive counts");
    // g(x) = p − I_x(a, b), decreasing in x.
    solve_decreasing(beta_quantile_guess(a, b, p), |x| (p - beta_reg(a, b, x), -beta.pdf(x)))
}

/// A first guess at the Beta(a, b) quantile at `p`, for the bracketed
/// Newton iteration to refine: the quantile of a normal law with the Beta's
/// mean and spread, computed on the log-odds scale so that it stays inside
/// (0, 1) however skewed the Beta is. (statrs's own Beta quantile does not
/// return for b beyond about 8·10⁶, i.e. certificates of 8 million draws.)
fn beta_quantile_guess(a: f64, b: f64, p: f64) -> f64 {
    // The log-odds of a Beta(a, b) variable has mean ≈ ln(a/b) and variance
    // ≈ 1/a + 1/b.
    let log_odds = (a / b).ln() + crate::normal_ppf(p) * (1.0 / a + 1.0 / b).sqrt();
    1.0 / (1.0 + (-log_odds).exp())
}

/// The root in (0, 1) of a decreasing function given with its derivative,
/// by Newton's method kept inside a shrinking bracket (bisection when a step
/// would leave it). `start` is a first guess.
fn solve_decreasing(start: f64, f: impl Fn(f64) -> (f64, f64)) -> f64 {
    let (mut low, mut high) = (0.0, 1.0);
    let mut x = if start > 0.0 && start < 1.0 { start } else { 0.5 };
    for _ in 0..200 {
        let (value, slope) = f(x);
        if value == 0.0 {
            return x;
        }
        if value > 0.0 && !value.is_nan() {
            low = x;
        } else {
            high = x;
        }
        let newton = x - value / slope;
        let next = if newton > low && newton < high { newton } else { low + (high - low) / 2.0 };
        if (next - x).abs() <= 2.0 * f64::EPSILON * x || high - low <= 2.0 * f64::EPSILON * high {
            return next;
        }
        x = next;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where both methods are accurate they must agree: the exact tail sum
    /// and the polished Beta quantile meet at `SMALL_COUNT` (the Beta route
    /// is the less accurate one, about 1e-10 relative at n = 10^6).
    #[test]
    fn tail_sum_and_beta_quantile_agree_for_moderate_counts() {
        for n in [500, 10_000, 1_000_000] {
            for k in [20, 60, SMALL_COUNT] {
                for a in [1e-6, 1e-3, 0.05] {
                    let by_sum = (small_lower(k, n, a), small_upper(k, n, a));
                    let by_beta = (
                        polished_beta_quantile(k as f64, (n - k + 1) as f64, a),
                        polished_beta_quantile((k + 1) as f64, (n - k) as f64, 1.0 - a),
                    );
                    for (sum, beta) in [(by_sum.0, by_beta.0), (by_sum.1, by_beta.1)] {
                        assert!((sum / beta - 1.0).abs() < 1e-9, "k={k} n={n} a={a}: {sum} vs {beta}");
                    }
                }
            }
        }
    }

    #[test]
    fn closed_forms_at_the_extremes() {
        // P(X ≤ 0) = (1 − p)^n = a  and  P(X ≥ n) = p^n = a. Beyond 8·10⁶
        // draws statrs's Beta quantile, the former first guess, never returned.
        for (n, a) in [(10, 0.05), (100_000, 1e-3), (1_000_000, 0.1), (7, 1e-8), (1 << 24, 1e-3), (1 << 34, 1e-3)] {
            let upper = -(f64::ln(a) / n as f64).exp_m1();
            assert!((small_upper(0, n, a) / upper - 1.0).abs() < 1e-13, "n={n} a={a}");
            let lower = (f64::ln(a) / n as f64).exp();
            assert!((lower_bound(n, n, a) / lower - 1.0).abs() < 1e-13, "n={n} a={a}");
        }
    }
}
