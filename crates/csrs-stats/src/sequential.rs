//! Anytime-valid bounds on a binomial proportion: they hold at every number
//! of draws at once, so that draws may come in rounds and stop as soon as
//! what they show settles a question.
//!
//! A Clopper–Pearson bound holds at one n fixed in advance; checked after
//! every round, it fails far more often than α. These bounds come from
//! Robbins' mixture martingale with a Beta(½, ½) prior (the
//! Krichevsky–Trofimov estimator, as in Voráček's treatment of sequential
//! estimation in randomized smoothing): for S successes in n draws,
//!
//!   M_n(p) = B(S + ½, n − S + ½) / (B(½, ½) · p^S (1 − p)^(n−S)).
//!
//! Under the true p, M_n is a nonnegative martingale with mean 1, so by
//! Ville's inequality P(∃n: M_n(p) ≥ 1/α) ≤ α. ln M_n is convex in p with
//! its minimum (≤ 0, the mixture never beats the best fit) at S/n, so
//! {p : M_n(p) < 1/α} is an interval around S/n; its ends are the bounds,
//! found by bisection.

use statrs::function::gamma::ln_gamma;

/// Bisection steps: the bracket shrinks to 2⁻⁶⁴ of its width, below f64's
/// resolution everywhere in (0, 1).
const STEPS: usize = 64;

/// Error allowed for each logarithm: relative, and absolute (statrs's
/// log-gamma was measured against 40-digit values at 2e-16 relative for
/// large arguments and 2e-15 absolute for small ones). The threshold is
/// raised by that much, so that rounding can only widen the bounds.
const LN_RELATIVE_ERROR: f64 = 1e-15;
const LN_ABSOLUTE_ERROR: f64 = 1e-13;

/// The most a computed logarithm `value` can be off.
fn ln_error(value: f64) -> f64 {
    LN_RELATIVE_ERROR * value.abs() + LN_ABSOLUTE_ERROR
}

/// The lower end: the smallest p ≤ k/n not yet ruled out; 0 < k ≤ n.
pub(crate) fn lower_bound(k: u64, n: u64, alpha: f64) -> f64 {
    let mixture = Mixture::new(k, n, alpha);
    // Ruled out (excess ≥ 0) at the left end of the bracket, kept at the
    // right one: the bound is kept at the left end, a little low.
    let (mut out, mut kept) = (0.0, k as f64 / n as f64);
    for _ in 0..STEPS {
        let middle = 0.5 * (out + kept);
        if mixture.excess(middle) >= 0.0 {
            out = middle;
        } else {
            kept = middle;
        }
    }
    out
}

/// The upper end: the largest p ≥ k/n not yet ruled out; 0 ≤ k < n.
pub(crate) fn upper_bound(k: u64, n: u64, alpha: f64) -> f64 {
    1.0 - lower_bound(n - k, n, alpha)
}

/// ln M_n(p) − ln(1/α) for one count, with its error margin.
struct Mixture {
    k: f64,
    n: f64,
    /// ln B(k + ½, n − k + ½) − ln B(½, ½) − ln(1/α) − margin.
    constant: f64,
}

impl Mixture {
    fn new(k: u64, n: u64, alpha: f64) -> Mixture {
        let (k, n) = (k as f64, n as f64);
        let terms = [ln_gamma(k + 0.5), ln_gamma(n - k + 0.5), ln_gamma(n + 1.0)];
        let ln_beta = terms[0] + terms[1] - terms[2];
        // B(½, ½) = π.
        let margin = terms.iter().map(|&t| ln_error(t)).sum::<f64>();
        Mixture { k, n, constant: ln_beta - std::f64::consts::PI.ln() + alpha.ln() - margin }
    }

    /// ln M_n(p) − ln(1/α), less the margin; ≥ 0 where p is ruled out.
    fn excess(&self, p: f64) -> f64 {
        let failures = self.n - self.k;
        let ln_likelihood = self.k * p.ln() + if failures > 0.0 { failures * (-p).ln_1p() } else { 0.0 };
        self.constant - ln_likelihood - ln_error(ln_likelihood)
    }
}
