//! Planning against values computed by hand: closed forms with Python's
//! `statistics.NormalDist` (all draws for the top class: the Clopper–Pearson
//! bounds are α^{1/n} and 1 − α^{1/n}), and SciPy's beta quantiles for
//! counts below n.

use csrs_stats::plan::{Mode, draws_needed, max_radius, top_draws_needed};
use csrs_stats::{Alpha, Smoothing};

fn setting() -> (Alpha, Smoothing) {
    (Alpha::new(0.001).unwrap(), Smoothing::gaussian(0.25).unwrap())
}

#[test]
fn the_largest_radius_of_n_draws() {
    let (alpha, smoothing) = setting();
    // σ Φ⁻¹(0.001^{1/100000})
    let standard = max_radius(Mode::Standard, 100_000, alpha, smoothing).unwrap().get();
    assert!((standard - 0.952_864_140_847_478_4).abs() < 1e-9, "{standard}");
    // σ/2 (Φ⁻¹(p) − Φ⁻¹(1 − p)) with p = 0.0005^{1/100000}: the harmful
    // bound is capped at 1 − p, so the number of levels does not matter.
    for levels in [1, 3] {
        let cs = max_radius(Mode::CostSensitive { levels }, 100_000, alpha, smoothing).unwrap().get();
        assert!((cs - 0.946_939_716_484_973_4).abs() < 1e-9, "{levels}: {cs}");
    }
    // 0.001^{1/9} < 1/2: nine draws certify nothing.
    assert_eq!(max_radius(Mode::Standard, 9, alpha, smoothing), None);
}

#[test]
fn the_draws_a_target_radius_needs() {
    let (alpha, smoothing) = setting();
    // n ≥ ln α / ln Φ(R/σ) = 300.17
    assert_eq!(draws_needed(Mode::Standard, 0.5, alpha, smoothing), Some(301));
    assert_eq!(draws_needed(Mode::CostSensitive { levels: 1 }, 0.5, alpha, smoothing), Some(331));
    // Far beyond what any sample size reaches at this α.
    assert_eq!(draws_needed(Mode::Standard, 50.0, alpha, smoothing), None);
}

#[test]
fn the_share_of_draws_the_top_class_needs() {
    let (alpha, smoothing) = setting();
    assert_eq!(top_draws_needed(Mode::Standard, 0.25, 1000, alpha, smoothing), Some(877));
    assert_eq!(top_draws_needed(Mode::CostSensitive { levels: 1 }, 0.25, 1000, alpha, smoothing), Some(385));
    assert_eq!(top_draws_needed(Mode::CostSensitive { levels: 3 }, 0.25, 1000, alpha, smoothing), Some(403));
    assert_eq!(top_draws_needed(Mode::Standard, 2.0, 1000, alpha, smoothing), None);
}
