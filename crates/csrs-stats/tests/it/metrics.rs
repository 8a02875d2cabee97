//! Metrics over hand-built certificates with known answers.

use csrs_stats::metrics::{CertifiedExample, summarize, summarize_by_class};
use csrs_stats::{Certificate, CostSensitiveCertificate, HarmRadius, LevelRadius, Radius, StandardCertificate};

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
    }
}

fn certified(r: f64) -> HarmRadius {
    HarmRadius::Certified(Radius::new(r).unwrap())
}

#[test]
fn summary_counts_what_spec_section_8_says() {
    use HarmRadius::{Infinite, NotCertified};
    let examples = vec![
        // Correct, radius 0.5, not sensitive.
        example(0, 0, Some(0.5), None),
        // Wrong prediction with a radius: never certified accurate.
        example(0, 1, Some(0.9), None),
        // Abstains, but certified never to become harmful up to 0.3.
        example(1, 1, None, Some(&[(0.0, certified(0.3)), (1.0, certified(0.8)), (5.0, Infinite)])),
        // Predicts a harmful class: not certified at level 0.
        example(1, 2, Some(0.2), Some(&[(0.0, NotCertified), (1.0, certified(0.1)), (5.0, Infinite)])),
    ];
    let summary = summarize(&examples, &[0.0, 0.25, 0.6]);
    assert_eq!((summary.n_examples, summary.n_sensitive), (4, 2));
    assert_eq!(summary.clean_accuracy, 0.25);
    assert_eq!(summary.average_certified_radius, 0.5 / 4.0);
    assert_eq!(summary.average_cs_radius, Some(0.3 / 2.0));

    let at: Vec<_> = summary.at_radius.iter().map(|m| m.certified_accuracy).collect();
    assert_eq!(at, [0.25, 0.25, 0.0]);
    let cs: Vec<_> = summary.at_radius.iter().map(|m| m.certified_cs_robustness.unwrap()).collect();
    assert_eq!(cs, [0.5, 0.5, 0.0]);
    // Certified cost: example 3 is 0 up to 0.3, then 1 up to 0.8; example 4
    // is 1 up to 0.1, then 5.
    let cost: Vec<_> = summary.at_radius.iter().map(|m| m.certified_robust_cost.unwrap()).collect();
    assert_eq!(cost, [0.5, 2.5, 3.0]);

    let by_class = summarize_by_class(&examples, &[0.25]);
    assert_eq!(by_class.iter().map(|c| c.class_idx).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(by_class[0].summary.at_radius[0].certified_accuracy, 0.5);
    assert_eq!(by_class[0].summary.at_radius[0].certified_cs_robustness, None);
    assert_eq!(by_class[1].summary.clean_accuracy, 0.0);
}
