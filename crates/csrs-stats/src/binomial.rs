//! Exact binomial inference: Clopper–Pearson bounds and the two-sided test.

use statrs::function::beta::beta_reg;

use crate::{Alpha, Result, StatsError, quantile, sequential};

/// `successes` out of `trials` independent draws, checked once so that its
/// bounds cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinomialSample {
    successes: u64,
    trials: u64,
}

impl BinomialSample {
    /// # Errors
    /// [`StatsError::NoSamples`] for zero trials,
    /// [`StatsError::SuccessesExceedTrials`] for more successes than trials.
    pub fn new(successes: u64, trials: u64) -> Result<Self> {
        if trials == 0 {
            return Err(StatsError::NoSamples);
        }
        if successes > trials {
            return Err(StatsError::SuccessesExceedTrials { successes, trials });
        }
        Ok(BinomialSample { successes, trials })
    }

    /// The number of successes k.
    pub fn successes(self) -> u64 {
        self.successes
    }

    /// The number of trials n.
    pub fn trials(self) -> u64 {
        self.trials
    }

    /// The one-sided Clopper–Pearson lower bound: P(p ≥ bound) ≥ 1 − α.
    ///
    /// Beta⁻¹(α; k, n − k + 1), and 0 when k = 0 (SPEC §2).
    ///
    /// # Examples
    /// ```
    /// use csrs_stats::{Alpha, BinomialSample};
    /// // All 100 draws agree: p ≥ 0.01^(1/100) with 99% confidence.
    /// let bound = BinomialSample::new(100, 100)?.lower(Alpha::new(0.01)?);
    /// assert!((bound - 0.01f64.powf(0.01)).abs() < 1e-12);
    /// # Ok::<(), csrs_stats::StatsError>(())
    /// ```
    pub fn lower(self, alpha: Alpha) -> f64 {
        if self.successes == 0 {
            return 0.0;
        }
        quantile::lower_bound(self.successes, self.trials, alpha.get())
    }

    /// The one-sided Clopper–Pearson upper bound: P(p ≤ bound) ≥ 1 − α.
    ///
    /// Beta⁻¹(1 − α; k + 1, n − k), and 1 when k = n (SPEC §2).
    pub fn upper(self, alpha: Alpha) -> f64 {
        if self.successes == self.trials {
            return 1.0;
        }
        quantile::upper_bound(self.successes, self.trials, alpha.get())
    }

    /// The one-sided anytime-valid lower bound: P(p ≥ bound at every
    /// number of draws at once) ≥ 1 − α, so it may be checked after each
    /// round of draws and the drawing stopped on what it shows. Wider than
    /// [`lower`](Self::lower), which holds at one n fixed in advance.
    ///
    /// The end of the Beta(½, ½) mixture confidence sequence (see the
    /// `sequential` module); 0 when k = 0.
    ///
    /// # Examples
    /// ```
    /// use csrs_stats::{Alpha, BinomialSample};
    /// let sample = BinomialSample::new(990, 1000)?;
    /// let alpha = Alpha::new(0.001)?;
    /// assert!(sample.sequential_lower(alpha) < sample.lower(alpha));
    /// # Ok::<(), csrs_stats::StatsError>(())
    /// ```
    pub fn sequential_lower(self, alpha: Alpha) -> f64 {
        if self.successes == 0 {
            return 0.0;
        }
        sequential::lower_bound(self.successes, self.trials, alpha.get())
    }

    /// The one-sided anytime-valid upper bound (see
    /// [`sequential_lower`](Self::sequential_lower)); 1 when k = n.
    pub fn sequential_upper(self, alpha: Alpha) -> f64 {
        if self.successes == self.trials {
            return 1.0;
        }
        sequential::upper_bound(self.successes, self.trials, alpha.get())
    }

    /// The two-sided Clopper–Pearson interval at confidence 1 − α: the
    /// one-sided bounds at α/2 each, so that P(lower ≤ p ≤ upper) ≥ 1 − α
    /// (scipy's `binomtest(k, n).proportion_ci(1 - α, method="exact")`).
    ///
    /// # Examples
    /// ```
    /// use csrs_stats::{Alpha, BinomialSample};
    /// let (low, high) = BinomialSample::new(45, 50)?.interval(Alpha::new(0.05)?);
    /// assert!(low < 0.9 && 0.9 < high);
    /// # Ok::<(), csrs_stats::StatsError>(())
    /// ```
    pub fn interval(self, alpha: Alpha) -> (f64, f64) {
        let tail = alpha.split(2);
        (self.lower(tail), self.upper(tail))
    }
}

/// The p-value of the exact two-sided binomial test of H₀: p = ½, for
/// `successes` in `trials` draws (scipy's `binomtest(k, n, 0.5)`).
///
/// Under p = ½ the distribution is symmetric, so the p-value is
/// 2·P(X ≤ min(k, n − k)), capped at 1.
///
/// # Errors
/// As [`BinomialSample::new`].
///
/// # Examples
/// ```
/// let p = csrs_stats::binomial_test_half(15, 20)?;
/// assert!((p / 0.04138946533203125 - 1.0).abs() < 1e-12);
/// # Ok::<(), csrs_stats::StatsError>(())
/// ```
pub fn binomial_test_half(successes: u64, trials: u64) -> Result<f64> {
    let sample = BinomialSample::new(successes, trials)?;
    let tail = sample.successes.min(trials - sample.successes);
    if 2 * tail == trials {
        return Ok(1.0);
    }
    // P(X <= t) = I_{1/2}(n - t, t + 1), the regularized incomplete beta function.
    let cdf = beta_reg((trials - tail) as f64, (tail + 1) as f64, 0.5);
    Ok((2.0 * cdf).min(1.0))
}

/// McNemar's exact test of two classifiers on the same examples: the
/// two-sided p-value of the binomial test at ½ on the discordant examples,
/// `only_first` right by the first alone and `only_second` by the second
/// alone (the examples both get right or both get wrong say nothing about
/// which is better). 1 when there are no discordant examples.
///
/// Paired, it resolves differences that two overlapping intervals hide:
/// 60 of 100 against 70 of 100 overlap, but 10 discordant examples all one
/// way give p = 0.002.
///
/// # Examples
/// ```
/// let p = csrs_stats::mcnemar_exact(0, 10);
/// assert!((p / 0.001953125 - 1.0).abs() < 1e-12);
/// assert_eq!(csrs_stats::mcnemar_exact(0, 0), 1.0);
/// ```
pub fn mcnemar_exact(only_first: u64, only_second: u64) -> f64 {
    match only_first.saturating_add(only_second) {
        0 => 1.0,
        discordant => binomial_test_half(only_first, discordant).expect("successes within the trials"),
    }
}
