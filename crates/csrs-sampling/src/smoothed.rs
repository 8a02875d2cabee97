//! The smoothed classifier g: certify and predict from a class counter.

use csrs_cost::CostRow;
use csrs_stats::{Alpha, Certificate, ClassCounts, Prediction, Sigma, certify, predict};

use crate::{ClassCounter, NoiseStream, Phase, Result, SamplingError};

/// A certificate with the counts it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Certified {
    /// The certificate.
    pub certificate: Certificate,
    /// The n₀ selection counts.
    pub selection: ClassCounts,
    /// The n estimation counts.
    pub estimation: ClassCounts,
}

/// A PREDICT answer with the counts it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicted {
    /// The smoothed prediction, or abstain.
    pub prediction: Prediction,
    /// The n counts.
    pub counts: ClassCounts,
}

/// g(x) = argmax_k P(f(x + δ) = k), δ ~ N(0, σ²I), through its counts.
pub struct Smoothed<C> {
    counter: C,
    sigma: Sigma,
}

impl<C: ClassCounter> Smoothed<C> {
    /// The smoothed version of `counter`'s classifier at noise level σ.
    pub fn new(counter: C, sigma: Sigma) -> Self {
        Smoothed { counter, sigma }
    }

    /// The noise level σ.
    pub fn sigma(&self) -> Sigma {
        self.sigma
    }

    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.counter.n_classes()
    }

    /// Certify-CS (SPEC §4): ĉ from `n0` draws, bounds from `n` fresh ones.
    /// Without a cost row, or for a class with no harmful mistake, this is
    /// Cohen et al.'s CERTIFY.
    ///
    /// # Errors
    /// Zero draws, an input or cost row of the wrong size, or a failing model.
    pub fn certify(
        &mut self,
        input: &[f32],
        cost_row: Option<&CostRow<'_>>,
        alpha: Alpha,
        n0: u64,
        n: u64,
        stream: NoiseStream,
    ) -> Result<Certified> {
        if let Some(row) = cost_row.filter(|row| row.n_classes() != self.n_classes()) {
            return Err(SamplingError::ClassCount { got: row.n_classes(), expected: self.n_classes() });
        }
        let selection = self.counts(input, n0, "n0", stream, Phase::Selection)?;
        let estimation = self.counts(input, n, "n", stream, Phase::Estimation)?;
        let certificate = certify(&selection, &estimation, cost_row, self.sigma, alpha)?;
        Ok(Certified { certificate, selection, estimation })
    }

    /// Cohen et al.'s PREDICT from `n` draws at level α.
    ///
    /// # Errors
    /// Zero draws, an input of the wrong size, or a failing model.
    pub fn predict(&mut self, input: &[f32], alpha: Alpha, n: u64, stream: NoiseStream) -> Result<Predicted> {
        let counts = self.counts(input, n, "n", stream, Phase::Prediction)?;
        Ok(Predicted { prediction: predict(&counts, alpha), counts })
    }

    /// The base classifier's class for the clean input (no noise); `None`
    /// when the counter has no base classifier.
    ///
    /// # Errors
    /// An input of the wrong size, or a failing model.
    pub fn base_class(&mut self, input: &[f32]) -> Result<Option<usize>> {
        self.counter.base_class(input)
    }

    fn counts(
        &mut self,
        input: &[f32],
        n: u64,
        what: &'static str,
        stream: NoiseStream,
        phase: Phase,
    ) -> Result<ClassCounts> {
        if n == 0 {
            return Err(SamplingError::NoDraws { what });
        }
        let counts = self.counter.count(input, self.sigma, n, stream, phase)?;
        Ok(ClassCounts::new(counts)?)
    }
}
