//! One row of a cost matrix: the harms that matter for one true class.

use crate::{CostError, Result};

/// Row `y` of a cost matrix: `costs[k]` is the harm of predicting `k` when the
/// truth is `y`.
///
/// This is all that certifying one example needs: its sensitive set
/// Ω_y = { k : C\[y\]\[k\] > 0 } and its cost levels.
/// A row with no positive cost belongs to a class that is not a seed: no
/// mistake on it is harmful, and it is certified in the standard way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostRow<'a> {
    true_class: usize,
    costs: &'a [f64],
}

impl<'a> CostRow<'a> {
    /// Checks a bare row: at least two entries, every cost finite and
    /// non-negative, `true_class` in range and its own cost zero.
    ///
    /// # Errors
    /// [`CostError`] naming the first offending entry.
    ///
    /// # Examples
    /// ```
    /// use csrs_cost::CostRow;
    /// let row = CostRow::new(&[0.0, 1.0, 0.0, 5.0], 0)?;
    /// assert_eq!(row.sensitive_set().collect::<Vec<_>>(), vec![1, 3]);
    /// assert_eq!(row.levels(), vec![1.0, 5.0]);
    /// assert!(CostRow::new(&[1.0, 0.0], 0).is_err()); // C[0][0] must be 0
    /// # Ok::<(), csrs_cost::CostError>(())
    /// ```
    pub fn new(costs: &'a [f64], true_class: usize) -> Result<Self> {
        if costs.len() < 2 {
            return Err(CostError::TooFewClasses(costs.len()));
        }
        if true_class >= costs.len() {
            return Err(CostError::ClassOutOfRange { index: true_class, n_classes: costs.len() });
        }
        for (col, &value) in costs.iter().enumerate() {
            let row = true_class;
            if !value.is_finite() {
                return Err(CostError::NonFinite { row, col, value });
            }
            if value < 0.0 {
                return Err(CostError::Negative { row, col, value });
            }
        }
        if costs[true_class] != 0.0 {
            return Err(CostError::NonZeroDiagonal { class: true_class, value: costs[true_class] });
        }
        Ok(CostRow { true_class, costs })
    }

    /// The true class `y` this row belongs to.
    pub fn true_class(&self) -> usize {
        self.true_class
    }

    /// The number of classes m.
    pub fn n_classes(&self) -> usize {
        self.costs.len()
    }

    /// The harm of predicting `class_idx`.
    ///
    /// # Panics
    /// If `class_idx >= self.n_classes()`.
    pub fn cost(&self, class_idx: usize) -> f64 {
        self.costs[class_idx]
    }

    /// All costs of the row, indexed by predicted class.
    pub fn costs(&self) -> &'a [f64] {
        self.costs
    }

    /// Whether any mistake on this class is harmful (Ω_y ≠ ∅).
    pub fn is_seed(&self) -> bool {
        self.costs.iter().any(|&c| c > 0.0)
    }

    /// Ω_y: the classes whose prediction is harmful, in increasing order.
    pub fn sensitive_set(&self) -> impl Iterator<Item = usize> + 'a {
        self.sensitive_above(0.0)
    }

    /// Ω_y(t) = { k : C\[y\]\[k\] > t }: the classes still harmful above level `t`.
    pub fn sensitive_above(&self, level: f64) -> impl Iterator<Item = usize> + 'a {
        self.costs.iter().enumerate().filter(move |&(_, &c)| c > level).map(|(k, _)| k)
    }

    /// The distinct positive costs of the row, in increasing order.
    ///
    /// For a binary row this is `[1.0]`; for a class that is not a seed it is
    /// empty.
    pub fn levels(&self) -> Vec<f64> {
        let mut levels: Vec<f64> = self.costs.iter().copied().filter(|&c| c > 0.0).collect();
        levels.sort_by(f64::total_cmp);
        levels.dedup();
        levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_sets_follow_the_levels() {
        let costs = [2.0, 0.0, 0.5, 2.0, 5.0];
        let row = CostRow::new(&costs, 1).unwrap();
        assert!(row.is_seed());
        assert_eq!(row.levels(), vec![0.5, 2.0, 5.0]);
        assert_eq!(row.sensitive_above(0.5).collect::<Vec<_>>(), vec![0, 3, 4]);
        assert_eq!(row.sensitive_above(2.0).collect::<Vec<_>>(), vec![4]);
        assert_eq!(row.sensitive_above(5.0).count(), 0);
    }

    #[test]
    fn a_zero_row_is_not_a_seed() {
        let costs = [0.0; 4];
        let row = CostRow::new(&costs, 2).unwrap();
        assert!(!row.is_seed());
        assert!(row.levels().is_empty());
        assert_eq!(row.sensitive_set().count(), 0);
    }

    #[test]
    fn rejects_malformed_rows() {
        let cases: [(&[f64], usize, &str); 5] = [
            (&[0.0], 0, "at least 2 classes"),
            (&[0.0, 1.0], 2, "class 2 is out of range"),
            (&[0.0, f64::NAN], 0, "entry [0][1] is NaN"),
            (&[0.0, -1.0], 0, "expected a cost >= 0"),
            (&[0.0, 3.0], 1, "diagonal entry [1][1] is 3"),
        ];
        for (costs, label, message) in cases {
            let err = CostRow::new(costs, label).unwrap_err().to_string();
            assert!(err.contains(message), "{err:?} should contain {message:?}");
        }
    }
}
