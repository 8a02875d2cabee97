//! Anytime-valid bounds checked after every round of draws: they fail at
//! most α of the time over the whole run, where a fixed-n bound checked the
//! same way fails far more often.

use csrs_stats::{Alpha, BinomialSample};

/// SplitMix64: a fixed-seed source of uniform numbers in [0, 1).
struct Uniform(u64);

impl Uniform {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The share of `runs` runs of `rounds` rounds of `per_round` Bernoulli(p)
/// draws in which `wrong(successes, trials)` holds after some round.
fn failure_rate(p: f64, runs: u32, rounds: u64, per_round: u64, wrong: impl Fn(BinomialSample) -> bool) -> f64 {
    let mut uniform = Uniform(7);
    let mut failed = 0;
    for _ in 0..runs {
        let mut successes = 0;
        for round in 1..=rounds {
            successes += (0..per_round).filter(|_| uniform.next() < p).count() as u64;
            if wrong(BinomialSample::new(successes, round * per_round).unwrap()) {
                failed += 1;
                break;
            }
        }
    }
    f64::from(failed) / f64::from(runs)
}

#[test]
fn anytime_bounds_hold_over_every_round_at_once() {
    let alpha = Alpha::new(0.05).unwrap();
    let (runs, rounds, per_round) = (600, 60, 200);
    for p in [0.9, 0.5, 0.02] {
        let lower = failure_rate(p, runs, rounds, per_round, |s| s.sequential_lower(alpha) > p);
        let upper = failure_rate(p, runs, rounds, per_round, |s| s.sequential_upper(alpha) < p);
        assert!(lower <= 0.05 && upper <= 0.05, "p = {p}: lower fails {lower}, upper {upper}");
        // The fixed-n bound, checked after every round: well above α.
        let fixed = failure_rate(p, runs, rounds, per_round, |s| s.lower(alpha) > p);
        assert!(fixed > 0.1, "p = {p}: Clopper–Pearson checked {rounds} times fails only {fixed}");
    }
}

#[test]
fn anytime_bounds_bracket_the_estimate_and_narrow_with_the_draws() {
    let alpha = Alpha::new(0.001).unwrap();
    let mut width = f64::INFINITY;
    for n in [100u64, 1_000, 10_000, 100_000, 1_000_000] {
        let sample = BinomialSample::new(n * 9 / 10, n).unwrap();
        let (lower, upper) = (sample.sequential_lower(alpha), sample.sequential_upper(alpha));
        assert!(lower < 0.9 && 0.9 < upper, "n = {n}: [{lower}, {upper}]");
        assert!(lower <= sample.lower(alpha) && upper >= sample.upper(alpha), "n = {n}: narrower than fixed-n");
        assert!(upper - lower < width, "n = {n}");
        width = upper - lower;
    }
    let all = BinomialSample::new(50, 50).unwrap();
    assert_eq!(all.sequential_upper(alpha), 1.0);
    assert_eq!(BinomialSample::new(0, 50).unwrap().sequential_lower(alpha), 0.0);
    assert!(all.sequential_lower(alpha) > 0.8);
}

#[test]
fn anytime_certificates_are_made_of_anytime_bounds() {
    use csrs_cost::CostRow;
    use csrs_stats::{Bounds, ClassCounts, Smoothing, certify, certify_with};
    let (smoothing, alpha) = (Smoothing::gaussian(0.5).unwrap(), Alpha::new(0.001).unwrap());
    let counts = ClassCounts::new(vec![9_100, 500, 400]).unwrap();
    let top = BinomialSample::new(9_100, 10_000).unwrap();

    let anytime = certify_with(&counts, &counts, None, smoothing, alpha, Bounds::ANYTIME).unwrap();
    assert_eq!(anytime.p_lower, top.sequential_lower(alpha));
    let fixed = certify(&counts, &counts, None, smoothing, alpha).unwrap();
    assert!(anytime.standard.radius().unwrap().get() < fixed.standard.radius().unwrap().get());

    // Certify-CS: p̲ at α/2, the harmful class's bound at α/2 (one level).
    let costs = [0.0, 0.0, 1.0];
    let row = CostRow::new(&costs, 0).unwrap();
    let anytime = certify_with(&counts, &counts, Some(&row), smoothing, alpha, Bounds::ANYTIME).unwrap();
    assert_eq!(anytime.p_lower, top.sequential_lower(alpha.split(2)));
    let harmful = BinomialSample::new(400, 10_000).unwrap().sequential_upper(alpha.split(2));
    let expected = 0.25 * (csrs_stats::normal_ppf(anytime.p_lower) - csrs_stats::normal_ppf(harmful));
    match anytime.cost_sensitive.unwrap().radius() {
        csrs_stats::HarmRadius::Certified(r) => assert!((r.get() - expected).abs() < 1e-12, "{r:?} vs {expected}"),
        other => panic!("{other:?}"),
    }
}
