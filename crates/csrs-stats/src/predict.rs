//! Cohen's PREDICT: the smoothed classifier's prediction, without a radius.

use crate::{Alpha, ClassCounts, binomial_test_half};

/// The smoothed classifier's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// A class, returned with probability of error at most α.
    Class(usize),
    /// The top two classes are too close to tell apart at level α.
    Abstain,
}

/// Cohen et al.'s PREDICT from n draws: the top class, unless the exact
/// two-sided binomial test of n₁ successes in n₁ + n₂ trials at p = ½ has a
/// p-value above α (n₁ ≥ n₂ the two largest counts).
///
/// # Examples
/// ```
/// use csrs_stats::{Alpha, ClassCounts, Prediction, predict};
/// let alpha = Alpha::new(0.05)?;
/// assert_eq!(predict(&ClassCounts::new(vec![2, 15, 5])?, alpha), Prediction::Class(1));
/// assert_eq!(predict(&ClassCounts::new(vec![9, 11, 0])?, alpha), Prediction::Abstain);
/// # Ok::<(), csrs_stats::StatsError>(())
/// ```
pub fn predict(counts: &ClassCounts, alpha: Alpha) -> Prediction {
    let (first, second) = counts.top_two();
    let top = counts.count(first);
    let p_value = binomial_test_half(top, top + counts.count(second)).expect("the top count is positive");
    if p_value > alpha.get() { Prediction::Abstain } else { Prediction::Class(first) }
}
