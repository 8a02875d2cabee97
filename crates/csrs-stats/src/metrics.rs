//! Metrics over a test set of certified examples (SPEC §8).
//!
//! Abstains are never counted as correct or robust in the standard metrics.
//! A cost-sensitive certificate, however, holds even when the standard one
//! abstains (SPEC §4.5): it says that no harmful class can be output, and
//! that is what certified cost-sensitive robustness counts.

use std::iter;

use crate::{Alpha, BinomialSample, Certificate, CostSensitiveCertificate, HarmRadius, Radius};

/// One certified test example.
#[derive(Debug, Clone, PartialEq)]
pub struct CertifiedExample {
    /// The true class y.
    pub label: usize,
    /// Its certificate.
    pub certificate: Certificate,
    /// The base classifier's prediction on the clean input (no noise), when
    /// it was recorded.
    pub base_predicted: Option<usize>,
}

impl CertifiedExample {
    /// ĉ = y and the standard radius is at least ε.
    pub fn certified_correct(&self, epsilon: f64) -> bool {
        Fraction::CertifiedAccuracy.holds(self, epsilon) == Some(true)
    }

    /// Whether the example is sensitive (its class has harmful mistakes).
    pub fn is_sensitive(&self) -> bool {
        self.certificate.cost_sensitive.is_some()
    }

    /// For sensitive examples: ĉ ∉ Ω_y and the cost-sensitive radius is at
    /// least ε. `None` for examples that are not sensitive.
    pub fn certified_cost_robust(&self, epsilon: f64) -> Option<bool> {
        Fraction::CostSensitiveRobustness.holds(self, epsilon)
    }

    /// For sensitive examples: what the standard certificate alone proves,
    /// that ĉ is not harmful and cannot change within ε. `None` for examples
    /// that are not sensitive.
    ///
    /// Whether ĉ is harmful is read off the cost-sensitive curve: when the
    /// standard certificate holds (p̲ > ½), [`certify`](crate::certify)
    /// leaves level 0 uncertified only for a harmful ĉ, since every other
    /// class then has p̄ ≤ 1 − p̲ < p̲. In that case r(0) ≥ σΦ⁻¹(p̲), so an
    /// example robust by this test is always robust by
    /// [`certified_cost_robust`](Self::certified_cost_robust) too.
    pub fn standard_cost_robust(&self, epsilon: f64) -> Option<bool> {
        Fraction::StandardCostSensitiveRobustness.holds(self, epsilon)
    }
}

/// `hits` of `of` examples: a measured fraction, with its exact interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proportion {
    /// The examples that count.
    pub hits: usize,
    /// The examples it is a fraction of.
    pub of: usize,
}

impl Proportion {
    /// hits / of; NaN when `of` is 0.
    pub fn value(self) -> f64 {
        self.hits as f64 / self.of as f64
    }

    /// The two-sided Clopper–Pearson interval at confidence 1 − α on the
    /// fraction the test examples were drawn from; `None` when `of` is 0.
    pub fn interval(self, alpha: Alpha) -> Option<(f64, f64)> {
        let sample = BinomialSample::new(self.hits as u64, self.of as u64).ok()?;
        Some(sample.interval(alpha))
    }
}

/// The fractions of examples that hold at a radius ε.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fraction {
    /// Of all examples: ĉ = y and the standard radius is at least ε.
    CertifiedAccuracy,
    /// Of the sensitive examples: no harmful class within ε (Certify-CS).
    CostSensitiveRobustness,
    /// Of the sensitive examples: the standard certificate alone rules out
    /// every harmful class within ε.
    StandardCostSensitiveRobustness,
}

impl Fraction {
    /// The fraction at `epsilon`; `None` for a fraction of the sensitive
    /// examples when there are none.
    pub fn at(self, examples: &[CertifiedExample], epsilon: f64) -> Option<Proportion> {
        let (hits, of) = examples
            .iter()
            .filter_map(|example| self.holds(example, epsilon))
            .fold((0, 0), |(hits, of), holds| (hits + usize::from(holds), of + 1));
        (self == Fraction::CertifiedAccuracy || of > 0).then_some(Proportion { hits, of })
    }

    /// The fraction at every radius, exactly: see [`Piece`]. It takes
    /// O(N log N) for N examples, so that a whole test set draws at once.
    pub fn curve(self, examples: &[CertifiedExample]) -> Option<Vec<Piece<Proportion>>> {
        self.at(examples, 0.0)?;
        let mut reaches: Vec<f64> = examples.iter().filter_map(|example| self.reach(example)).collect();
        reaches.sort_by(f64::total_cmp);
        let of = reaches.len();
        Some(step_curve(examples, |epsilon| Proportion { hits: of - reaches.partition_point(|&r| r < epsilon), of }))
    }

    /// Whether the example counts as a hit at `epsilon`; `None` when the
    /// fraction does not count it.
    fn holds(self, example: &CertifiedExample, epsilon: f64) -> Option<bool> {
        self.reach(example).map(|reach| epsilon <= reach)
    }

    /// How far an example this fraction counts is a hit: at every radius
    /// up to the one returned (−∞: at none, ∞: at all). `None` for an
    /// example it does not count (one that is not sensitive, for the
    /// cost-sensitive fractions).
    fn reach(self, example: &CertifiedExample) -> Option<f64> {
        let certificate = &example.certificate;
        let standard = certificate.standard.radius().map_or(f64::NEG_INFINITY, Radius::get);
        match self {
            Fraction::CertifiedAccuracy => {
                Some(if certificate.predicted == example.label { standard } else { f64::NEG_INFINITY })
            }
            Fraction::CostSensitiveRobustness => certificate.cost_sensitive.as_ref().map(|cs| cs.radius().reach()),
            Fraction::StandardCostSensitiveRobustness => certificate
                .cost_sensitive
                .as_ref()
                .map(|cs| if cs.radius() == HarmRadius::NotCertified { f64::NEG_INFINITY } else { standard }),
        }
    }
}

/// A metric is constant between the radii where some certificate ends: one
/// such stretch, (`from`, `to`] (the first one starts at radius 0 itself,
/// the last one has `to` = ∞).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece<T> {
    /// Where it starts (excluded, but for the first piece at 0).
    pub from: f64,
    /// Where it ends (included).
    pub to: f64,
    /// The metric's value on it.
    pub value: T,
}

/// The mean certified cost over the sensitive examples at every radius
/// (see [`CostSensitiveCertificate::certified_cost`]); `None` without
/// sensitive examples.
pub fn certified_cost_curve(examples: &[CertifiedExample]) -> Option<Vec<Piece<f64>>> {
    let sensitive: Vec<&CostSensitiveCertificate> =
        examples.iter().filter_map(|e| e.certificate.cost_sensitive.as_ref()).collect();
    if sensitive.is_empty() {
        return None;
    }
    // The certified cost at ε is the level of the first r(t) ≥ ε; since the
    // radii grow with the level, it is the sum of the rises t_i − t_{i−1}
    // over the levels whose predecessor's radius r(t_{i−1}) is below ε.
    let mut rises: Vec<(f64, f64)> = sensitive
        .iter()
        .flat_map(|cs| cs.levels().windows(2).map(|pair| (pair[0].radius.reach(), pair[1].level - pair[0].level)))
        .collect();
    rises.sort_by(|a, b| a.0.total_cmp(&b.0));
    let below: Vec<f64> = iter::once(0.0)
        .chain(rises.iter().scan(0.0, |total, (_, rise)| {
            *total += rise;
            Some(*total)
        }))
        .collect();
    let n = sensitive.len() as f64;
    Some(step_curve(examples, |epsilon| below[rises.partition_point(|(radius, _)| *radius < epsilon)] / n))
}

/// `value_at` as pieces, from the finite radii of every certificate (the
/// only places where a metric of certificates can change).
///
/// Every metric here holds at ε when some radius is at least ε, so it is
/// constant on (r₁, r₂] between two consecutive radii and takes its value at
/// r₂; beyond the largest radius it takes its value just above it.
fn step_curve<T: PartialEq>(examples: &[CertifiedExample], value_at: impl Fn(f64) -> T) -> Vec<Piece<T>> {
    let radii = breakpoints(examples);
    let mut pieces: Vec<Piece<T>> = Vec::with_capacity(radii.len() + 1);
    let mut from = 0.0_f64;
    for to in radii.into_iter().chain([f64::INFINITY]) {
        let value = if to.is_finite() { value_at(to) } else { value_at(from.next_up()) };
        match pieces.last_mut() {
            Some(last) if last.value == value => last.to = to,
            _ => pieces.push(Piece { from, to, value }),
        }
        from = to;
    }
    pieces
}

/// Every finite radius of the examples' certificates (standard and per
/// harm level), in increasing order without repeats: the radii where a
/// metric of these examples can change.
pub fn breakpoints(examples: &[CertifiedExample]) -> Vec<f64> {
    let mut radii: Vec<f64> = examples.iter().flat_map(finite_radii).collect();
    radii.sort_by(f64::total_cmp);
    radii.dedup();
    radii
}

/// The finite radii of an example's certificate: standard and per level.
fn finite_radii(example: &CertifiedExample) -> impl Iterator<Item = f64> + '_ {
    let standard = example.certificate.standard.radius().map(Radius::get);
    let levels =
        example.certificate.cost_sensitive.iter().flat_map(|cs| cs.levels()).filter_map(|level| match level.radius {
            HarmRadius::Certified(radius) => Some(radius.get()),
            HarmRadius::NotCertified | HarmRadius::Infinite => None,
        });
    standard.into_iter().chain(levels)
}

/// The metrics of a set of examples at one radius ε.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRadius {
    /// ε.
    pub radius: f64,
    /// Examples with ĉ = y certified at ε, of all examples.
    pub certified_accuracy: Proportion,
    /// Sensitive examples certified never to become harmful within ε, of
    /// the sensitive examples; `None` without sensitive examples.
    pub certified_cs_robustness: Option<Proportion>,
    /// The same by the standard certificate alone (see
    /// [`CertifiedExample::standard_cost_robust`]).
    pub standard_cs_robustness: Option<Proportion>,
    /// Mean certified cost at ε over sensitive examples; `None` without them.
    pub certified_robust_cost: Option<f64>,
}

/// Metrics of a set of examples.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of examples.
    pub n_examples: usize,
    /// Number of sensitive examples.
    pub n_sensitive: usize,
    /// Accuracy of the smoothed classifier: ĉ = y and no abstain.
    pub clean_accuracy: Proportion,
    /// Accuracy of the base classifier on the clean inputs; `None` unless
    /// every example recorded its base prediction.
    pub base_accuracy: Option<Proportion>,
    /// Average certified radius: mean over all examples of the standard
    /// radius when ĉ = y, else 0.
    pub average_certified_radius: f64,
    /// Mean cost-sensitive radius over sensitive examples (0 when not
    /// certified); `None` without sensitive examples.
    pub average_cs_radius: Option<f64>,
    /// The metrics at each requested radius, in the order given.
    pub at_radius: Vec<AtRadius>,
}

/// A [`Summary`] restricted to the examples of one true class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSummary {
    /// The class.
    pub class_idx: usize,
    /// Its metrics.
    pub summary: Summary,
}

/// The metrics of `examples` at each of `radii`. An empty set gives NaN
/// values.
pub fn summarize(examples: &[CertifiedExample], radii: &[f64]) -> Summary {
    let sensitive: Vec<&CertifiedExample> = examples.iter().filter(|e| e.is_sensitive()).collect();
    let sensitive_mean = |value: &dyn Fn(&CertifiedExample) -> f64| {
        (!sensitive.is_empty()).then(|| sensitive.iter().map(|e| value(e)).sum::<f64>() / sensitive.len() as f64)
    };
    let at_radius = radii
        .iter()
        .map(|&radius| AtRadius {
            radius,
            certified_accuracy: Fraction::CertifiedAccuracy.at(examples, radius).expect("of all examples"),
            certified_cs_robustness: Fraction::CostSensitiveRobustness.at(examples, radius),
            standard_cs_robustness: Fraction::StandardCostSensitiveRobustness.at(examples, radius),
            certified_robust_cost: sensitive_mean(&|e| {
                e.certificate.cost_sensitive.as_ref().map_or(0.0, |cs| cs.certified_cost(radius))
            }),
        })
        .collect();
    let base_hits: Option<usize> =
        examples.iter().map(|e| e.base_predicted.map(|base| usize::from(base == e.label))).sum();
    Summary {
        n_examples: examples.len(),
        n_sensitive: sensitive.len(),
        clean_accuracy: Fraction::CertifiedAccuracy.at(examples, 0.0).expect("of all examples"),
        base_accuracy: base_hits.filter(|_| !examples.is_empty()).map(|hits| Proportion { hits, of: examples.len() }),
        average_certified_radius: examples
            .iter()
            .filter(|e| e.certificate.predicted == e.label)
            .filter_map(|e| e.certificate.standard.radius())
            .map(|radius| radius.get())
            .sum::<f64>()
            / examples.len() as f64,
        average_cs_radius: sensitive_mean(&|e| {
            // Not certified counts as 0.
            e.certificate.cost_sensitive.as_ref().map_or(0.0, |cs| cs.radius().reach().max(0.0))
        }),
        at_radius,
    }
}

/// [`summarize`] for each true class present, in class order.
pub fn summarize_by_class(examples: &[CertifiedExample], radii: &[f64]) -> Vec<ClassSummary> {
    let mut classes: Vec<usize> = examples.iter().map(|e| e.label).collect();
    classes.sort_unstable();
    classes.dedup();
    classes
        .into_iter()
        .map(|class_idx| {
            let of_class: Vec<CertifiedExample> = examples.iter().filter(|e| e.label == class_idx).cloned().collect();
            ClassSummary { class_idx, summary: summarize(&of_class, radii) }
        })
        .collect()
}
