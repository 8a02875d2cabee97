//! Metrics over a test set of certified examples (SPEC §8).
//!
//! Abstains are never counted as correct or robust in the standard metrics.
//! A cost-sensitive certificate, however, holds even when the standard one
//! abstains (SPEC §4.5): it says that no harmful class can be output, and
//! that is what certified cost-sensitive robustness counts.

use crate::{Certificate, HarmRadius};

/// One certified test example.
#[derive(Debug, Clone, PartialEq)]
pub struct CertifiedExample {
    /// The true class y.
    pub label: usize,
    /// Its certificate.
    pub certificate: Certificate,
}

impl CertifiedExample {
    /// ĉ = y and the standard radius is at least ε.
    pub fn certified_correct(&self, epsilon: f64) -> bool {
        self.certificate.predicted == self.label
            && self.certificate.standard.radius().is_some_and(|radius| radius.get() >= epsilon)
    }

    /// Whether the example is sensitive (its class has harmful mistakes).
    pub fn is_sensitive(&self) -> bool {
        self.certificate.cost_sensitive.is_some()
    }

    /// For sensitive examples: ĉ ∉ Ω_y and the cost-sensitive radius is at
    /// least ε. `None` for examples that are not sensitive.
    pub fn certified_cost_robust(&self, epsilon: f64) -> Option<bool> {
        let cs = self.certificate.cost_sensitive.as_ref()?;
        Some(cs.radius().covers(epsilon))
    }
}

/// The metrics of a set of examples at one radius ε.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRadius {
    /// ε.
    pub radius: f64,
    /// Fraction of all examples with ĉ = y certified at ε.
    pub certified_accuracy: f64,
    /// Fraction of sensitive examples certified never to become harmful
    /// within ε; `None` without sensitive examples.
    pub certified_cs_robustness: Option<f64>,
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
    pub clean_accuracy: f64,
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
/// fractions.
pub fn summarize(examples: &[CertifiedExample], radii: &[f64]) -> Summary {
    let sensitive: Vec<&CertifiedExample> = examples.iter().filter(|e| e.is_sensitive()).collect();
    let fraction = |hits: usize, of: usize| hits as f64 / of as f64;
    let sensitive_mean = |value: &dyn Fn(&CertifiedExample) -> f64| {
        (!sensitive.is_empty()).then(|| sensitive.iter().map(|e| value(e)).sum::<f64>() / sensitive.len() as f64)
    };
    let at_radius = radii
        .iter()
        .map(|&radius| AtRadius {
            radius,
            certified_accuracy: fraction(
                examples.iter().filter(|e| e.certified_correct(radius)).count(),
                examples.len(),
            ),
            certified_cs_robustness: sensitive_mean(&|e| {
                f64::from(u8::from(e.certified_cost_robust(radius) == Some(true)))
            }),
            certified_robust_cost: sensitive_mean(&|e| {
                e.certificate.cost_sensitive.as_ref().map_or(0.0, |cs| cs.certified_cost(radius))
            }),
        })
        .collect();
    Summary {
        n_examples: examples.len(),
        n_sensitive: sensitive.len(),
        clean_accuracy: fraction(examples.iter().filter(|e| e.certified_correct(0.0)).count(), examples.len()),
        average_certified_radius: examples
            .iter()
            .filter(|e| e.certificate.predicted == e.label)
            .filter_map(|e| e.certificate.standard.radius())
            .map(|radius| radius.get())
            .sum::<f64>()
            / examples.len() as f64,
        average_cs_radius: sensitive_mean(&|e| {
            e.certificate.cost_sensitive.as_ref().map_or(0.0, |cs| match cs.radius() {
                HarmRadius::NotCertified => 0.0,
                HarmRadius::Certified(radius) => radius.get(),
                HarmRadius::Infinite => f64::INFINITY,
            })
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
