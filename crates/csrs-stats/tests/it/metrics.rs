//! Metrics over hand-built certificates with known answers.

use csrs_stats::metrics::{
    CertifiedExample, Fraction, Piece, Proportion, certified_cost_curve, summarize, summarize_by_class,
};
use csrs_stats::{Alpha, Certificate, CostSensitiveCertificate, HarmRadius, LevelRadius, Radius, StandardCertificate};

fn standard(radius: Option<f64>) -> StandardCertificate {
    radius.map_or(StandardCertificate::Abstain, |r| StandardCertificate::Certified(Radius::new(r).unwrap()))
}

fn example(label: usize, predicted: usize, radius: Option<f64>, cs: Option<&[(f64, HarmRadius)]>) -> CertifiedExample {
    let cost_sensitive = cs.map(|levels| {
        let levels = levels.iter().map(|&(level, radius)| LevelRadius { level, radius }).collect();
        CostSensitiveCertificate::new(levels, 0).unwrap()
    });
    CertifiedExample {
        label,
        certificate: Certificate { predicted, p_lower: 0.9, standard: standard(radius), cost_sensitive },
        base_predicted: None,
    }
}

fn certified(r: f64) -> HarmRadius {
    HarmRadius::Certified(Radius::new(r).unwrap())
}

/// Four examples whose every metric is known by hand.
fn four_examples() -> Vec<CertifiedExample> {
    use HarmRadius::{Infinite, NotCertified};
    vec![
        // Correct, radius 0.5, not sensitive.
        example(0, 0, Some(0.5), None),
        // Wrong prediction with a radius: never certified accurate.
        example(0, 1, Some(0.9), None),
        // Abstains, but certified never to become harmful up to 0.3.
        example(1, 1, None, Some(&[(0.0, certified(0.3)), (1.0, certified(0.8)), (5.0, Infinite)])),
        // Predicts a harmful class: not certified at level 0.
        example(1, 2, Some(0.2), Some(&[(0.0, NotCertified), (1.0, certified(0.1)), (5.0, Infinite)])),
    ]
}

fn fractions(values: impl Iterator<Item = Option<Proportion>>) -> Vec<f64> {
    values.map(|p| p.unwrap().value()).collect()
}

#[test]
fn summary_counts_what_spec_section_8_says() {
    let examples = four_examples();
    let summary = summarize(&examples, &[0.0, 0.25, 0.6]);
    assert_eq!((summary.n_examples, summary.n_sensitive), (4, 2));
    assert_eq!(summary.clean_accuracy, Proportion { hits: 1, of: 4 });
    assert_eq!(summary.base_accuracy, None);
    assert_eq!(summary.average_certified_radius, 0.5 / 4.0);
    assert_eq!(summary.average_cs_radius, Some(0.3 / 2.0));

    assert_eq!(fractions(summary.at_radius.iter().map(|m| Some(m.certified_accuracy))), [0.25, 0.25, 0.0]);
    assert_eq!(fractions(summary.at_radius.iter().map(|m| m.certified_cs_robustness)), [0.5, 0.5, 0.0]);
    // The abstaining example has no standard certificate, and the other
    // one's prediction is harmful: the standard certificate proves nothing.
    assert_eq!(fractions(summary.at_radius.iter().map(|m| m.standard_cs_robustness)), [0.0, 0.0, 0.0]);
    // Certified cost: example 3 is 0 up to 0.3, then 1 up to 0.8; example 4
    // is 1 up to 0.1, then 5.
    let cost: Vec<_> = summary.at_radius.iter().map(|m| m.certified_robust_cost.unwrap()).collect();
    assert_eq!(cost, [0.5, 2.5, 3.0]);

    let by_class = summarize_by_class(&examples, &[0.25]);
    assert_eq!(by_class.iter().map(|c| c.class_idx).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(by_class[0].summary.at_radius[0].certified_accuracy.value(), 0.5);
    assert_eq!(by_class[0].summary.at_radius[0].certified_cs_robustness, None);
    assert_eq!(by_class[1].summary.clean_accuracy.value(), 0.0);
}

#[test]
fn base_accuracy_needs_every_base_prediction() {
    let mut examples = four_examples();
    for (example, base) in examples.iter_mut().zip([0, 0, 1, 2]) {
        example.base_predicted = Some(base);
    }
    assert_eq!(summarize(&examples, &[]).base_accuracy, Some(Proportion { hits: 3, of: 4 }));
    examples[1].base_predicted = None;
    assert_eq!(summarize(&examples, &[]).base_accuracy, None);
}

#[test]
fn the_standard_certificate_counts_for_a_harmless_prediction_within_its_radius() {
    // Predicts the true class with radius 0.4; nothing harmful within 0.7.
    let harmless = example(1, 1, Some(0.4), Some(&[(0.0, certified(0.7)), (1.0, HarmRadius::Infinite)]));
    assert_eq!(harmless.standard_cost_robust(0.4), Some(true));
    assert_eq!(harmless.standard_cost_robust(0.41), Some(false));
    assert_eq!(harmless.certified_cost_robust(0.7), Some(true));
    assert_eq!(example(0, 0, Some(0.4), None).standard_cost_robust(0.0), None);
}

#[test]
fn curves_are_exact_step_functions_of_the_radius() {
    let examples = four_examples();
    let piece = |from: f64, to: f64, hits: usize, of: usize| Piece { from, to, value: Proportion { hits, of } };
    // Certified accuracy: only example 1, up to 0.5.
    assert_eq!(
        Fraction::CertifiedAccuracy.curve(&examples).unwrap(),
        [piece(0.0, 0.5, 1, 4), piece(0.5, f64::INFINITY, 0, 4)]
    );
    // Cost-sensitive robustness: example 3, up to 0.3.
    assert_eq!(
        Fraction::CostSensitiveRobustness.curve(&examples).unwrap(),
        [piece(0.0, 0.3, 1, 2), piece(0.3, f64::INFINITY, 0, 2)]
    );
    assert_eq!(Fraction::StandardCostSensitiveRobustness.curve(&examples).unwrap(), [piece(0.0, f64::INFINITY, 0, 2)]);
    // Mean certified cost of examples 3 and 4 (see above), changing at
    // 0.1, 0.3 and 0.8.
    let cost = |from: f64, to: f64, value: f64| Piece { from, to, value };
    assert_eq!(
        certified_cost_curve(&examples).unwrap(),
        [cost(0.0, 0.1, 0.5), cost(0.1, 0.3, 2.5), cost(0.3, 0.8, 3.0), cost(0.8, f64::INFINITY, 5.0)]
    );
    // Every piece agrees with the fraction at any radius inside it.
    for fraction in [Fraction::CertifiedAccuracy, Fraction::CostSensitiveRobustness] {
        for piece in fraction.curve(&examples).unwrap() {
            let inside = if piece.to.is_finite() { (piece.from + piece.to) / 2.0 } else { piece.from + 1.0 };
            assert_eq!(fraction.at(&examples, inside), Some(piece.value), "{fraction:?} at {inside}");
            assert_eq!(fraction.at(&examples, piece.to.min(10.0)), Some(piece.value), "{fraction:?} at its end");
        }
    }
    let not_sensitive = [example(0, 0, Some(0.5), None)];
    assert_eq!(Fraction::CostSensitiveRobustness.curve(&not_sensitive), None);
    assert_eq!(certified_cost_curve(&not_sensitive), None);
}

#[test]
fn proportions_carry_their_exact_interval() {
    let alpha = Alpha::new(0.05).unwrap();
    let (low, high) = Proportion { hits: 45, of: 51 }.interval(alpha).unwrap();
    assert!(low < 45.0 / 51.0 && 45.0 / 51.0 < high);
    assert_eq!(Proportion { hits: 0, of: 0 }.interval(alpha), None);
    assert!(Proportion { hits: 0, of: 0 }.value().is_nan());
}
