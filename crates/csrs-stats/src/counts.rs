//! How often each class came out of the base classifier under noise.

use crate::{BinomialSample, Result, StatsError};

/// Counts of the base classifier's predictions over noisy copies of one
/// input: `counts[k]` draws were classified as `k`.
///
/// At least two classes and at least one draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassCounts {
    counts: Vec<u64>,
    total: u64,
}

impl ClassCounts {
    /// # Errors
    /// [`StatsError::TooFewClasses`], [`StatsError::NoSamples`] or
    /// [`StatsError::Overflow`].
    ///
    /// # Examples
    /// ```
    /// let counts = csrs_stats::ClassCounts::new(vec![3, 90, 90, 17])?;
    /// assert_eq!(counts.top(), 1); // ties go to the smaller index
    /// assert_eq!(counts.total(), 200);
    /// # Ok::<(), csrs_stats::StatsError>(())
    /// ```
    pub fn new(counts: Vec<u64>) -> Result<Self> {
        if counts.len() < 2 {
            return Err(StatsError::TooFewClasses(counts.len()));
        }
        let total = counts.iter().try_fold(0u64, |sum, &c| sum.checked_add(c)).ok_or(StatsError::Overflow)?;
        if total == 0 {
            return Err(StatsError::NoSamples);
        }
        Ok(ClassCounts { counts, total })
    }

    /// The number of classes m.
    pub fn n_classes(&self) -> usize {
        self.counts.len()
    }

    /// The number of draws n.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Draws classified as `class_idx`.
    ///
    /// # Panics
    /// If `class_idx >= self.n_classes()`.
    pub fn count(&self, class_idx: usize) -> u64 {
        self.counts[class_idx]
    }

    /// All counts, indexed by class.
    pub fn as_slice(&self) -> &[u64] {
        &self.counts
    }

    /// The most frequent class; ties go to the smaller index.
    pub fn top(&self) -> usize {
        self.top_two().0
    }

    /// The two most frequent classes, most frequent first (ties: smaller
    /// index first).
    pub fn top_two(&self) -> (usize, usize) {
        let mut first = 0;
        let mut second = 1;
        if self.counts[1] > self.counts[0] {
            (first, second) = (1, 0);
        }
        for (k, &c) in self.counts.iter().enumerate().skip(2) {
            if c > self.counts[first] {
                (first, second) = (k, first);
            } else if c > self.counts[second] {
                second = k;
            }
        }
        (first, second)
    }

    /// `class_idx`'s count as a binomial sample of the total.
    pub fn sample(&self, class_idx: usize) -> BinomialSample {
        BinomialSample::new(self.counts[class_idx], self.total).expect("a count never exceeds the total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_two_breaks_ties_towards_smaller_indices() {
        let cases: [(&[u64], (usize, usize)); 5] = [
            (&[5, 5], (0, 1)),
            (&[1, 7], (1, 0)),
            (&[0, 3, 9, 3], (2, 1)),
            (&[4, 0, 4, 4], (0, 2)),
            (&[0, 0, 1, 0], (2, 0)),
        ];
        for (counts, expected) in cases {
            assert_eq!(ClassCounts::new(counts.to_vec()).unwrap().top_two(), expected, "{counts:?}");
        }
    }

    #[test]
    fn rejects_degenerate_counts() {
        assert_eq!(ClassCounts::new(vec![3]), Err(StatsError::TooFewClasses(1)));
        assert_eq!(ClassCounts::new(vec![0, 0]), Err(StatsError::NoSamples));
        assert_eq!(ClassCounts::new(vec![u64::MAX, 1]), Err(StatsError::Overflow));
    }
}
