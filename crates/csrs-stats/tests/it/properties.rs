//! Properties that must hold for all counts, not just the oracle's.

use csrs_cost::CostRow;
use csrs_stats::metrics::{CertifiedExample, Fraction, breakpoints, certified_cost_curve, summarize};
use csrs_stats::{
    Alpha, BinomialSample, Bounds, ClassCounts, HarmRadius, Smoothing, certify, certify_with, radius_ceilings,
};
use proptest::prelude::*;

fn alphas() -> impl Strategy<Value = Alpha> {
    prop_oneof![Just(1e-5), Just(1e-3), Just(0.01), Just(0.05), 1e-6..0.5f64].prop_map(|a| Alpha::new(a).unwrap())
}

fn sample() -> impl Strategy<Value = BinomialSample> {
    (1u64..100_000).prop_flat_map(|n| (0..=n).prop_map(move |k| BinomialSample::new(k, n).unwrap()))
}

/// Counts over 3..8 classes, total between 1 and ~10^5, plus a cost row for
/// a random true class with a random subset of harmful classes and levels.
fn counts_and_costs() -> impl Strategy<Value = (Vec<u64>, Vec<f64>, usize)> {
    (3usize..8).prop_flat_map(|m| {
        (
            prop::collection::vec(0u64..20_000, m).prop_filter("needs a draw", |c| c.iter().sum::<u64>() > 0),
            prop::collection::vec(prop_oneof![Just(0.0), Just(1.0), Just(2.5), Just(5.0)], m),
            0..m,
        )
            .prop_map(|(counts, mut costs, label)| {
                costs[label] = 0.0;
                (counts, costs, label)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn bounds_bracket_the_estimate(sample in sample(), alpha in alphas()) {
        let estimate = sample.successes() as f64 / sample.trials() as f64;
        for (lower, upper) in [
            (sample.lower(alpha), sample.upper(alpha)),
            (sample.sequential_lower(alpha), sample.sequential_upper(alpha)),
        ] {
            prop_assert!((0.0..=estimate).contains(&lower), "lower {lower} vs {estimate}");
            prop_assert!((estimate..=1.0).contains(&upper), "upper {upper} vs {estimate}");
        }
    }

    #[test]
    fn bounds_grow_with_the_count(sample in sample(), alpha in alphas()) {
        prop_assume!(sample.successes() < sample.trials());
        let next = BinomialSample::new(sample.successes() + 1, sample.trials()).unwrap();
        prop_assert!(sample.lower(alpha) <= next.lower(alpha));
        prop_assert!(sample.upper(alpha) <= next.upper(alpha));
        // Certify-CS bounds a set of harmful classes by its largest count:
        // the anytime bounds must grow with the count too.
        prop_assert!(sample.sequential_lower(alpha) <= next.sequential_lower(alpha));
        prop_assert!(sample.sequential_upper(alpha) <= next.sequential_upper(alpha));
    }

    #[test]
    fn smaller_alpha_widens_the_bounds(sample in sample(), alpha in alphas()) {
        let stricter = alpha.split(10);
        prop_assert!(sample.lower(stricter) <= sample.lower(alpha));
        prop_assert!(sample.upper(stricter) >= sample.upper(alpha));
        prop_assert!(sample.sequential_lower(stricter) <= sample.sequential_lower(alpha));
        prop_assert!(sample.sequential_upper(stricter) >= sample.sequential_upper(alpha));
    }

    #[test]
    fn cost_sensitive_radius_is_at_least_the_standard_one((counts, costs, label) in counts_and_costs(), alpha in alphas()) {
        let counts = ClassCounts::new(counts).unwrap();
        let row = CostRow::new(&costs, label).unwrap();
        let cert = certify(&counts, &counts, Some(&row), Smoothing::gaussian(0.5).unwrap(), alpha).unwrap();
        if let (Some(cs), Some(standard)) = (&cert.cost_sensitive, cert.standard.radius())
            && row.cost(cert.predicted) == 0.0
        {
            match cs.radius() {
                HarmRadius::Certified(radius) => {
                    prop_assert!(radius.get() >= standard.get() * (1.0 - 1e-12), "{radius:?} < {standard:?}");
                }
                other => prop_assert!(false, "certified harmless prediction, yet r(0) is {other:?}"),
            }
        }
    }

    #[test]
    fn the_standard_certificate_proves_no_more_than_certify_cs((counts, costs, label) in counts_and_costs(), alpha in alphas()) {
        let counts = ClassCounts::new(counts).unwrap();
        let row = CostRow::new(&costs, label).unwrap();
        let certificate = certify(&counts, &counts, Some(&row), Smoothing::gaussian(0.5).unwrap(), alpha).unwrap();
        let harmless = row.cost(certificate.predicted) == 0.0;
        let standard = certificate.standard.radius();
        let example = CertifiedExample { label, certificate, base_predicted: None };
        for epsilon in [0.0, 0.05, 0.2, 0.5, 1.0, 3.0] {
            let by_standard = example.standard_cost_robust(epsilon);
            let expected = harmless && standard.is_some_and(|r| r.get() >= epsilon);
            prop_assert_eq!(by_standard.unwrap_or(false), expected && example.is_sensitive(), "at {}", epsilon);
            if by_standard == Some(true) {
                prop_assert_eq!(example.certified_cost_robust(epsilon), Some(true), "at {}", epsilon);
            }
        }
    }

    #[test]
    fn curves_agree_with_the_metrics_at_every_radius(
        cases in prop::collection::vec((counts_and_costs(), any::<bool>()), 1..8),
        alpha in alphas(),
    ) {
        let examples: Vec<CertifiedExample> = cases
            .into_iter()
            .map(|((counts, costs, label), correct)| {
                let counts = ClassCounts::new(counts).unwrap();
                let row = CostRow::new(&costs, label).unwrap();
                let certificate = certify(&counts, &counts, Some(&row), Smoothing::gaussian(0.5).unwrap(), alpha).unwrap();
                let label = if correct { certificate.predicted } else { label };
                CertifiedExample { label, certificate, base_predicted: None }
            })
            .collect();
        let mut radii = breakpoints(&examples);
        radii.extend([0.0, 0.01, 0.3, 1.0, 10.0]);
        let between: Vec<f64> = radii.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
        radii.extend(between);
        let summary = summarize(&examples, &radii);
        for fraction in [Fraction::CertifiedAccuracy, Fraction::CostSensitiveRobustness, Fraction::StandardCostSensitiveRobustness] {
            let Some(curve) = fraction.curve(&examples) else {
                prop_assert_eq!(fraction.at(&examples, 0.0), None);
                continue;
            };
            for &epsilon in &radii {
                let piece = curve.iter().find(|p| epsilon <= p.to).unwrap();
                prop_assert_eq!(Some(piece.value), fraction.at(&examples, epsilon), "{:?} at {}", fraction, epsilon);
            }
        }
        if let Some(curve) = certified_cost_curve(&examples) {
            for (epsilon, at) in radii.iter().zip(&summary.at_radius) {
                let piece = curve.iter().find(|p| *epsilon <= p.to).unwrap();
                let expected = at.certified_robust_cost.unwrap();
                prop_assert!((piece.value - expected).abs() < 1e-9, "cost at {}: {} vs {}", epsilon, piece.value, expected);
            }
        }
    }

    #[test]
    fn ceilings_are_never_below_what_is_certified((counts, costs, label) in counts_and_costs(), alpha in alphas()) {
        let counts = ClassCounts::new(counts).unwrap();
        let smoothing = Smoothing::gaussian(0.5).unwrap();
        for row in [None, Some(CostRow::new(&costs, label).unwrap())] {
            let certificate = certify_with(&counts, &counts, row.as_ref(), smoothing, alpha, Bounds::ANYTIME).unwrap();
            let ceilings = radius_ceilings(&counts, &counts, row.as_ref(), smoothing, alpha, Bounds::ANYTIME).unwrap();
            let standard = certificate.standard.radius().map_or(0.0, |r| r.get());
            prop_assert!(ceilings.standard >= standard, "{ceilings:?} below {standard}");
            match (&certificate.cost_sensitive, ceilings.cost_sensitive) {
                (Some(cs), Some(ceiling)) => {
                    if let HarmRadius::Certified(r) = cs.radius() {
                        prop_assert!(ceiling >= r.get(), "{ceiling} below {r:?}");
                    }
                    if cs.radius() == HarmRadius::NotCertified && row.as_ref().unwrap().cost(certificate.predicted) > 0.0 {
                        prop_assert_eq!(ceiling, 0.0);
                    }
                }
                (None, None) => {}
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }

    #[test]
    fn level_radii_grow_with_the_level((counts, costs, label) in counts_and_costs(), alpha in alphas()) {
        let counts = ClassCounts::new(counts).unwrap();
        let row = CostRow::new(&costs, label).unwrap();
        let cert = certify(&counts, &counts, Some(&row), Smoothing::gaussian(1.0).unwrap(), alpha).unwrap();
        let Some(cs) = cert.cost_sensitive else { return Ok(()) };
        prop_assert_eq!(cs.levels().last().unwrap().radius, HarmRadius::Infinite);
        for pair in cs.levels().windows(2) {
            prop_assert!(pair[0].level < pair[1].level);
            for epsilon in [0.0, 0.1, 0.5, 2.0] {
                prop_assert!(!pair[0].radius.covers(epsilon) || pair[1].radius.covers(epsilon));
            }
        }
        let costs_at: Vec<f64> = [0.0, 0.1, 0.5, 2.0, 100.0].iter().map(|&e| cs.certified_cost(e)).collect();
        prop_assert!(costs_at.windows(2).all(|w| w[0] <= w[1]), "{costs_at:?}");
    }

    #[test]
    fn radii_grow_when_a_harmful_draw_becomes_a_top_draw((counts, costs, label) in counts_and_costs(), alpha in alphas()) {
        let before = ClassCounts::new(counts.clone()).unwrap();
        let row = CostRow::new(&costs, label).unwrap();
        let smoothing = Smoothing::gaussian(0.25).unwrap();
        let cert = certify(&before, &before, Some(&row), smoothing, alpha).unwrap();
        let Some(cs) = &cert.cost_sensitive else { return Ok(()) };
        let donor = cs.strongest_harmful();
        prop_assume!(donor != cert.predicted && counts[donor] > 0);
        let mut moved = counts;
        moved[donor] -= 1;
        moved[cert.predicted] += 1;
        let after = ClassCounts::new(moved).unwrap();
        let cert_after = certify(&before, &after, Some(&row), smoothing, alpha).unwrap();
        let radius = |cert: &csrs_stats::Certificate| cert.standard.radius().map_or(0.0, |r| r.get());
        prop_assert!(radius(&cert_after) >= radius(&cert));
        let cs_radius = |cert: &csrs_stats::Certificate| {
            match cert.cost_sensitive.as_ref().unwrap().radius() {
                HarmRadius::Certified(r) => r.get(),
                _ => 0.0,
            }
        };
        prop_assert!(cs_radius(&cert_after) >= cs_radius(&cert));
    }
}
