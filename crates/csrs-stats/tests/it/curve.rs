//! A cost-sensitive certificate's curve: what `CostSensitiveCertificate::new`
//! accepts and what it refuses, case by case.

use csrs_stats::{CostSensitiveCertificate, CurveError, HarmRadius, LevelRadius, Radius};

fn curve(points: &[(f64, Option<f64>)]) -> Vec<LevelRadius> {
    points
        .iter()
        .map(|&(level, radius)| LevelRadius {
            level,
            radius: match radius {
                None => HarmRadius::NotCertified,
                Some(r) if r.is_infinite() => HarmRadius::Infinite,
                Some(r) => HarmRadius::Certified(Radius::new(r).unwrap()),
            },
        })
        .collect()
}

const INF: Option<f64> = Some(f64::INFINITY);

#[test]
fn a_valid_curve_answers_every_radius() {
    let cert = CostSensitiveCertificate::new(curve(&[(0.0, None), (1.0, Some(0.3)), (5.0, INF)]), 2).unwrap();
    assert_eq!(cert.radius(), HarmRadius::NotCertified);
    assert_eq!(cert.strongest_harmful(), 2);
    assert_eq!(cert.levels().len(), 3);
    assert_eq!(cert.certified_cost(0.0), 1.0);
    assert_eq!(cert.certified_cost(0.3), 1.0);
    assert_eq!(cert.certified_cost(0.31), 5.0);
    assert_eq!(cert.certified_cost(1e9), 5.0);
    // A single level, harmless above 0.
    assert!(CostSensitiveCertificate::new(curve(&[(0.0, INF)]), 0).is_ok());
}

#[test]
fn broken_curves_are_refused_naming_the_first_bad_point() {
    let level = |position, level, expected| CurveError::Level { position, level, expected };
    let above = "a finite number above the level before it";
    for (points, error) in [
        (vec![], CurveError::Empty),
        // The top level finite, or the only one.
        (vec![(0.0, Some(0.7)), (1.0, Some(0.9))], CurveError::Infinity { level: 1.0, found: "finite" }),
        (vec![(0.0, Some(0.7))], CurveError::Infinity { level: 0.0, found: "finite" }),
        // Out of order, repeated, not starting at 0, not finite.
        (vec![(1.0, INF), (0.0, Some(0.7))], level(0, 1.0, "0 first")),
        (vec![(0.0, Some(0.7)), (0.0, INF)], level(1, 0.0, above)),
        (vec![(0.0, Some(0.7)), (2.0, Some(0.8)), (1.0, INF)], level(2, 1.0, above)),
        (vec![(0.0, Some(0.7)), (f64::NAN, INF)], level(1, f64::NAN, above)),
        (vec![(0.0, Some(0.7)), (f64::INFINITY, INF)], level(1, f64::INFINITY, above)),
        // Radii that shrink, or an infinite one below the top.
        (vec![(0.0, Some(0.7)), (1.0, Some(0.5)), (2.0, INF)], CurveError::Shrinks { level: 1.0 }),
        (vec![(0.0, Some(0.7)), (1.0, None), (2.0, INF)], CurveError::Shrinks { level: 1.0 }),
        (vec![(0.0, INF), (1.0, INF)], CurveError::Infinity { level: 0.0, found: "infinite" }),
    ] {
        let got = CostSensitiveCertificate::new(curve(&points), 0).unwrap_err();
        // NaN levels compare unequal: compare the messages.
        assert_eq!(got.to_string(), error.to_string(), "{points:?}");
    }
}
