//! The smoothed classifier g: certify and predict from a class counter.

use csrs_cost::CostRow;
use csrs_stats::{
    Alpha, Bounds, Certificate, ClassCounts, Prediction, RadiusCeilings, Sigma, Smoothing, certify_with, predict,
    radius_ceilings,
};

use crate::{ClassCounter, Draws, Noise, NoiseStream, Phase, Result, SamplingError};

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

/// When certification in rounds ([`Smoothed::certify_in_rounds`]) has its
/// answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopRule {
    /// Once it is known whether the input is certified at this radius, by
    /// the standard certificate and (with a cost row) the cost-sensitive
    /// one: each is certified at it, or its ceiling is below it.
    AtRadius(f64),
    /// Once each certified radius is within this distance of its ceiling:
    /// the radius itself, to this precision.
    Within(f64),
}

/// A stop rule that cannot be: its key's value, or both keys given. Shown
/// by the settings' keys; each front end words it by its own names
/// ([`StopRuleError::text`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopRuleError {
    /// A target radius that is not a finite number > 0.
    TargetRadius(f64),
    /// A radius tolerance that is not a finite number > 0.
    RadiusTolerance(f64),
    /// Both rules at once.
    Both,
}

impl StopRuleError {
    /// The message, with each setting named by `name` given its key
    /// (`target_radius`, `radius_tolerance`).
    pub fn text(&self, name: impl Fn(&str) -> String) -> String {
        let (radius, tolerance) = (name("target_radius"), name("radius_tolerance"));
        match self {
            StopRuleError::TargetRadius(value) => format!("{radius} {value}, expected a finite number > 0"),
            StopRuleError::RadiusTolerance(value) => format!("{tolerance} {value}, expected a finite number > 0"),
            StopRuleError::Both => format!("{radius} and {tolerance} are both given, expected one stop rule"),
        }
    }
}

/// The message with the settings' keys.
impl std::fmt::Display for StopRuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(str::to_owned))
    }
}

impl std::error::Error for StopRuleError {}

impl StopRule {
    /// The rule of a run's settings: a target radius or a radius
    /// tolerance (a finite number > 0), or none for a fixed n.
    ///
    /// # Errors
    /// [`StopRuleError`]: a value that is not a finite number > 0, or both.
    ///
    /// ```
    /// use csrs_sampling::{StopRule, StopRuleError};
    ///
    /// assert_eq!(StopRule::of_settings(Some(0.5), None), Ok(Some(StopRule::AtRadius(0.5))));
    /// assert_eq!(StopRule::of_settings(None, None), Ok(None));
    /// assert_eq!(StopRule::of_settings(None, Some(f64::NAN)).unwrap_err().to_string(), "radius_tolerance NaN, expected a finite number > 0");
    /// assert_eq!(StopRule::of_settings(Some(0.5), Some(0.1)), Err(StopRuleError::Both));
    /// ```
    pub fn of_settings(
        target_radius: Option<f64>,
        radius_tolerance: Option<f64>,
    ) -> std::result::Result<Option<StopRule>, StopRuleError> {
        let positive = |value: f64| value.is_finite() && value > 0.0;
        match (target_radius, radius_tolerance) {
            (Some(_), Some(_)) => Err(StopRuleError::Both),
            (Some(radius), None) if positive(radius) => Ok(Some(StopRule::AtRadius(radius))),
            (Some(radius), None) => Err(StopRuleError::TargetRadius(radius)),
            (None, Some(tolerance)) if positive(tolerance) => Ok(Some(StopRule::Within(tolerance))),
            (None, Some(tolerance)) => Err(StopRuleError::RadiusTolerance(tolerance)),
            (None, None) => Ok(None),
        }
    }

    /// Whether `certificate`, with these ceilings, answers the rule.
    fn answered(self, certificate: &Certificate, ceilings: &RadiusCeilings) -> bool {
        let standard = certificate.standard.radius().map_or(0.0, |r| r.get());
        // Not certified counts as 0, the floor of a ceiling too.
        let cost_sensitive = certificate.cost_sensitive.as_ref().map(|cs| cs.radius().reach().max(0.0));
        let pairs = [(standard, ceilings.standard)].into_iter().chain(cost_sensitive.zip(ceilings.cost_sensitive));
        let answered = |(certified, ceiling): (f64, f64)| match self {
            StopRule::AtRadius(radius) => certified >= radius || ceiling < radius,
            StopRule::Within(tolerance) => certified == f64::INFINITY || ceiling - certified <= tolerance,
        };
        pairs.into_iter().all(answered)
    }
}

/// How certification in rounds draws: `first` estimation draws, then each
/// round as many as all before it, until its [`StopRule`] is answered or
/// `max_n` draws are spent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rounds {
    /// When to stop.
    pub rule: StopRule,
    /// Draws of the first round.
    pub first: u64,
    /// Draws at most, over all rounds.
    pub max_n: u64,
}

/// A certificate made in rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct CertifiedInRounds {
    /// The certificate (of anytime-valid bounds) and its counts; the
    /// estimation counts total the draws spent.
    pub certified: Certified,
    /// Whether the rule was answered (else `max_n` draws were spent first).
    pub answered: bool,
}

/// One input of [`Smoothed::certify_each_in_rounds`].
#[derive(Debug, Clone, Copy)]
pub struct InRounds<'a> {
    /// The input.
    pub input: &'a [f32],
    /// Its cost row (`None`: Cohen's certificate only).
    pub cost_row: Option<&'a CostRow<'a>>,
    /// Its noise stream.
    pub stream: NoiseStream,
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
///
/// With [`Noise::Sound`], every confidence bound is widened by the drawn
/// noise's distance from the exact one ([`Noise::slack`]), so the
/// certificates hold for the smoothing of f ∘ clip ∘ Round with the noise
/// as drawn.
pub struct Smoothed<C> {
    counter: C,
    noise: Noise,
}

impl<C: ClassCounter> Smoothed<C> {
    /// The smoothed version of `counter`'s classifier with this noise (a
    /// [`Sigma`] for Gaussian noise).
    pub fn new(counter: C, noise: impl Into<Noise>) -> Self {
        Smoothed { counter, noise: noise.into() }
    }

    /// The noise level σ.
    pub fn sigma(&self) -> Sigma {
        self.noise.sigma()
    }

    /// The smoothing its certificates are for.
    pub fn smoothing(&self) -> Smoothing {
        self.noise.smoothing()
    }

    /// The confidence bounds of `bounds`, widened by the noise's slack.
    fn widened(&self, bounds: Bounds) -> Bounds {
        bounds.widened(self.noise.slack(self.counter.input_len()))
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
        let certificate =
            certify_with(&selection, &estimation, cost_row, self.smoothing(), alpha, self.widened(Bounds::FIXED_N))?;
        Ok(Certified { certificate, selection, estimation })
    }

    /// Certify-CS in rounds: ĉ from `n0` draws, then estimation draws in
    /// rounds until `rounds.rule` is answered. Every bound is anytime-valid
    /// ([`Bounds::ANYTIME`]), so the certificate holds with probability
    /// ≥ 1 − α although the number of draws depends on the counts.
    ///
    /// # Errors
    /// Zero draws in the first round or at most, an input or cost row of the
    /// wrong size, or a failing model.
    pub fn certify_in_rounds(
        &mut self,
        input: &[f32],
        cost_row: Option<&CostRow<'_>>,
        alpha: Alpha,
        n0: u64,
        rounds: Rounds,
        stream: NoiseStream,
    ) -> Result<CertifiedInRounds> {
        let mut certified = self.certify_each_in_rounds(&[InRounds { input, cost_row, stream }], alpha, n0, rounds)?;
        Ok(certified.pop().expect("one input, one certificate"))
    }

    /// [`certify_in_rounds`](Self::certify_in_rounds) for several inputs at
    /// once: their selection draws, and each round of the inputs still
    /// undecided, are counted together ([`ClassCounter::count_each`]), so
    /// that small rounds of many inputs fill the counter's batches. Each
    /// input's certificate is the one it gets alone.
    ///
    /// # Errors
    /// As [`certify_in_rounds`](Self::certify_in_rounds).
    pub fn certify_each_in_rounds(
        &mut self,
        inputs: &[InRounds<'_>],
        alpha: Alpha,
        n0: u64,
        rounds: Rounds,
    ) -> Result<Vec<CertifiedInRounds>> {
        let m = self.n_classes();
        if let Some(row) = inputs.iter().filter_map(|one| one.cost_row).find(|row| row.n_classes() != m) {
            return Err(SamplingError::ClassCount { got: row.n_classes(), expected: m });
        }
        for (n, what) in [(n0, "n0"), (rounds.first, "the first round"), (rounds.max_n, "max-n")] {
            if n == 0 {
                return Err(SamplingError::NoDraws { what });
            }
        }
        let bounds = self.widened(Bounds::ANYTIME);
        let selection_draws: Vec<Draws<'_>> = inputs
            .iter()
            .map(|one| Draws { input: one.input, n: n0, stream: one.stream, phase: Phase::Selection })
            .collect();
        let selections = self.counter.count_each(&self.noise, &selection_draws)?;
        let selections = selections.into_iter().map(ClassCounts::new).collect::<std::result::Result<Vec<_>, _>>()?;
        let mut totals = vec![vec![0; m]; inputs.len()];
        let mut done: Vec<Option<CertifiedInRounds>> = vec![None; inputs.len()];
        let mut pending: Vec<usize> = (0..inputs.len()).collect();
        for round in 0.. {
            if pending.is_empty() {
                break;
            }
            let draws: Vec<Draws<'_>> = pending
                .iter()
                .map(|&i| {
                    let drawn: u64 = totals[i].iter().sum();
                    let n = if round == 0 { rounds.first } else { drawn }.min(rounds.max_n - drawn);
                    Draws { input: inputs[i].input, n, stream: inputs[i].stream, phase: Phase::Round(round) }
                })
                .collect();
            let counts = self.counter.count_each(&self.noise, &draws)?;
            let mut undecided = Vec::with_capacity(pending.len());
            for (i, counts) in pending.into_iter().zip(counts) {
                totals[i].iter_mut().zip(&counts).for_each(|(total, count)| *total += count);
                let (selection, row) = (&selections[i], inputs[i].cost_row);
                let estimation = ClassCounts::new(totals[i].clone())?;
                let certificate = certify_with(selection, &estimation, row, self.smoothing(), alpha, bounds)?;
                let ceilings = radius_ceilings(selection, &estimation, row, self.smoothing(), alpha, bounds)?;
                let answered = rounds.rule.answered(&certificate, &ceilings);
                if answered || estimation.total() >= rounds.max_n {
                    let certified = Certified { certificate, selection: selection.clone(), estimation };
                    done[i] = Some(CertifiedInRounds { certified, answered });
                } else {
                    undecided.push(i);
                }
            }
            pending = undecided;
        }
        Ok(done.into_iter().map(|one| one.expect("every input ends with a certificate")).collect())
    }

    /// Cohen et al.'s PREDICT from `n` draws at level α.
    ///
    /// With sound noise the test runs at α less the distance of the `n`
    /// draws from exact ones (n × [`Noise::slack`]): PREDICT's answer is a
    /// function of all the draws together, and that distance bounds how
    /// much more often it can be wrong than with exact noise.
    ///
    /// # Errors
    /// Zero draws, an input of the wrong size, a failing model, or more
    /// draws of sound noise than α leaves room for.
    pub fn predict(&mut self, input: &[f32], alpha: Alpha, n: u64, stream: NoiseStream) -> Result<Predicted> {
        let slack = n as f64 * self.noise.slack(self.counter.input_len());
        let level = Alpha::new(alpha.get() - slack).map_err(|_| SamplingError::SlackExceedsAlpha {
            n,
            slack,
            alpha: alpha.get(),
        })?;
        let counts = self.counts(input, n, "n", stream, Phase::Prediction)?;
        Ok(Predicted { prediction: predict(&counts, level), counts })
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
        let counts = self.counter.count(input, &self.noise, n, stream, phase)?;
        Ok(ClassCounts::new(counts)?)
    }
}
