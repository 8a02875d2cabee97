//! Soundness by simulation (SPEC §9): with a base classifier whose class
//! probabilities are known exactly, a certificate may claim more than the
//! truth allows in at most α of trials.

use csrs_cost::CostRow;
use csrs_stats::{Alpha, ClassCounts, HarmRadius, Sigma, certify, normal_ppf};

/// splitmix64: a tiny seeded generator, enough to draw multinomial counts.
struct SplitMix(u64);

impl SplitMix {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    }

    fn multinomial(&mut self, probabilities: &[f64], n: u64) -> ClassCounts {
        let mut counts = vec![0; probabilities.len()];
        for _ in 0..n {
            let u = self.uniform();
            let mut cumulative = 0.0;
            let class_idx = probabilities
                .iter()
                .position(|p| {
                    cumulative += p;
                    u < cumulative
                })
                .unwrap_or(probabilities.len() - 1);
            counts[class_idx] += 1;
        }
        ClassCounts::new(counts).unwrap()
    }
}

/// The radius within which, by the Neyman–Pearson argument on the *true*
/// probabilities, no class above `level` can be output.
fn true_radius(probabilities: &[f64], row: &CostRow<'_>, predicted: usize, level: f64, sigma: f64) -> f64 {
    let harmful = row.sensitive_above(level).map(|k| probabilities[k]).fold(0.0, f64::max);
    let p_top = probabilities[predicted];
    sigma / 2.0 * (normal_ppf(p_top) - normal_ppf(harmful.min(1.0 - p_top)))
}

#[test]
fn certificates_are_wrong_at_most_alpha_of_the_time() {
    // Tight on purpose: the true radii are small, so loose bounds would show.
    let probabilities = [0.46, 0.24, 0.18, 0.12];
    let costs = [0.0, 1.0, 3.0, 0.0];
    let row = CostRow::new(&costs, 0).unwrap();
    let (sigma, alpha, n, trials) = (0.5, 0.05, 400, 3000);

    let mut rng = SplitMix(20250711);
    let mut wrong = 0;
    let mut certified = 0;
    for _ in 0..trials {
        let selection = rng.multinomial(&probabilities, 50);
        let estimation = rng.multinomial(&probabilities, n);
        let cert = certify(&selection, &estimation, Some(&row), Sigma::new(sigma).unwrap(), Alpha::new(alpha).unwrap())
            .unwrap();
        let standard_wrong =
            cert.standard.radius().is_some_and(|r| r.get() > sigma * normal_ppf(probabilities[cert.predicted]));
        let cs = cert.cost_sensitive.as_ref().unwrap();
        let cs_wrong = cs.levels.iter().any(|level| match level.radius {
            HarmRadius::Certified(r) => r.get() > true_radius(&probabilities, &row, cert.predicted, level.level, sigma),
            HarmRadius::NotCertified => false,
            HarmRadius::Infinite => row.sensitive_above(level.level).next().is_some(),
        });
        certified += usize::from(matches!(cs.radius(), HarmRadius::Certified(_)));
        wrong += usize::from(standard_wrong || cs_wrong);
    }
    let rate = wrong as f64 / trials as f64;
    // Three standard deviations of a binomial proportion above alpha.
    let slack = 3.0 * (alpha * (1.0 - alpha) / trials as f64).sqrt();
    assert!(rate <= alpha + slack, "wrong in {wrong} of {trials} trials ({rate})");
    assert!(certified > trials / 2, "the test is vacuous: only {certified} certificates");
}
