//! Noise on the 8-bit grid: its thresholds against 60-digit values, the
//! offsets they draw, and the distribution of many draws.

use csrs_stats::{GRID_STEPS, GridGaussian, PHI_ERROR, Sigma, Smoothing, grid_distance, grid_index, grid_value};

/// (σ, k, ⌊2⁶⁴ Φ((k + ½)/(255σ))⌋) from `tests/data/grid_thresholds.csv`.
fn oracle() -> Vec<(f64, i32, u64)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/grid_thresholds.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let rows: Vec<_> = text
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[0].parse().unwrap(), cells[1].parse().unwrap(), cells[2].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 4 * 510);
    rows
}

#[test]
fn thresholds_are_within_the_stated_error_of_exact_values() {
    // The bound `draw_error` relies on: |T − 2⁶⁴ Φ| ≤ 2⁶⁴ (PHI_ERROR + 2⁻⁶⁴),
    // and the oracle's own floor is within 1 of 2⁶⁴ Φ.
    let allowed = PHI_ERROR * 2f64.powi(64) + 2.0;
    let mut worst = 0.0f64;
    for sigma in [0.12, 0.25, 0.5, 1.0] {
        let noise = GridGaussian::new(Sigma::new(sigma).unwrap());
        let exact: Vec<_> = oracle().into_iter().filter(|row| row.0 == sigma).collect();
        assert_eq!(exact.len(), noise.thresholds().len());
        for (&ours, (_, k, theirs)) in noise.thresholds().iter().zip(exact) {
            let error = (ours as f64 - theirs as f64).abs();
            assert!(error <= allowed, "σ = {sigma}, k = {k}: {ours} against {theirs}");
            worst = worst.max(error / 2f64.powi(64));
        }
    }
    // A margin of several times: the bound is not the measured error.
    assert!(worst < PHI_ERROR / 3.0, "largest error {worst:e}");
}

#[test]
fn thresholds_are_ordered_and_symmetric() {
    let noise = GridGaussian::new(Sigma::new(0.37).unwrap());
    let thresholds = noise.thresholds();
    assert!(thresholds.windows(2).all(|pair| pair[0] <= pair[1]));
    // Φ(−t) = 1 − Φ(t): the threshold of k and of −1 − k sum to 2⁶⁴.
    let error = PHI_ERROR * 2f64.powi(64) * 2.0 + 2.0;
    for (low, high) in thresholds.iter().zip(thresholds.iter().rev()) {
        assert!(((*low as f64 + *high as f64) - 2f64.powi(64)).abs() <= error);
    }
}

#[test]
fn each_offset_is_drawn_by_the_words_between_its_thresholds() {
    let noise = GridGaussian::new(Sigma::new(0.5).unwrap());
    let thresholds = noise.thresholds();
    let first = -(GRID_STEPS as i32);
    assert_eq!(noise.offset(0), first);
    assert_eq!(noise.offset(u64::MAX), GRID_STEPS as i32);
    for (slot, &threshold) in thresholds.iter().enumerate() {
        let upper_end_of = first + slot as i32;
        if threshold > 0 && (slot == 0 || thresholds[slot - 1] < threshold) {
            assert_eq!(noise.offset(threshold - 1), upper_end_of, "slot {slot}");
        }
        if slot + 1 == thresholds.len() || thresholds[slot + 1] > threshold {
            assert_eq!(noise.offset(threshold), upper_end_of + 1, "slot {slot}");
        }
    }
}

#[test]
fn the_offset_of_any_word_counts_the_thresholds_at_most_it() {
    for sigma in [0.01, 0.12, 0.5, 3.0] {
        let noise = GridGaussian::new(Sigma::new(sigma).unwrap());
        let thresholds = noise.thresholds();
        let edges = thresholds.iter().flat_map(|&t| [t.saturating_sub(1), t, t.saturating_add(1)]);
        let cells = (0..4096u64).flat_map(|j| [j << 52, (j << 52).wrapping_sub(1)]);
        for word in words(11).take(20_000).chain(edges).chain(cells).chain([0, u64::MAX]) {
            let expected = thresholds.partition_point(|&t| t <= word) as i32 - GRID_STEPS as i32;
            assert_eq!(noise.offset(word), expected, "σ = {sigma}, word {word}");
        }
    }
}

/// splitmix64: uniform words for the test, from a fixed seed.
fn words(seed: u64) -> impl Iterator<Item = u64> {
    let mut state = seed;
    std::iter::repeat_with(move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[test]
fn draws_have_the_rounded_gaussians_moments_and_clamped_tails() {
    let n = 400_000;
    for sigma in [0.02, 0.25, 2.0] {
        let noise = GridGaussian::new(Sigma::new(sigma).unwrap());
        let offsets: Vec<f64> = words(7).take(n).map(|word| f64::from(noise.offset(word))).collect();
        let mean = offsets.iter().sum::<f64>() / n as f64;
        let variance = offsets.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let scale = 255.0 * sigma;
        let expected = clamped_variance(scale);
        if sigma < 1.0 {
            // Rounding adds about 1/12 to the variance (Sheppard).
            assert!((expected - scale * scale - 1.0 / 12.0).abs() < 1e-3 * expected);
        }
        assert!(mean.abs() < 5.0 * (expected / n as f64).sqrt(), "σ = {sigma}: mean {mean}");
        assert!((variance / expected - 1.0).abs() < 0.01, "σ = {sigma}: variance {variance}, expected {expected}");
        // The tail beyond −254.5 steps lands on −255: 0.308 of the draws at
        // σ = 2, 3·10⁻⁵ at σ = 0.25, none at σ = 0.02.
        let at_end = offsets.iter().filter(|&&x| x == -255.0).count() as f64 / n as f64;
        let tail = csrs_stats::normal_cdf(-254.5 / scale);
        assert!(
            (at_end - tail).abs() <= 5.0 * (tail / n as f64).sqrt(),
            "σ = {sigma}: {at_end} at −255, expected {tail}"
        );
    }
}

/// The variance of N(0, s²) rounded to integers and clamped to ±255, summed
/// over the exact probabilities.
fn clamped_variance(scale: f64) -> f64 {
    let cdf = |m: f64| csrs_stats::normal_cdf(m / scale);
    (-255..=255)
        .map(|m: i32| {
            let m = f64::from(m);
            let lower = if m == -255.0 { 0.0 } else { cdf(m - 0.5) };
            let upper = if m == 255.0 { 1.0 } else { cdf(m + 0.5) };
            m * m * (upper - lower)
        })
        .sum()
}

#[test]
fn the_draw_error_grows_with_the_coordinates_and_stays_negligible() {
    let noise = GridGaussian::new(Sigma::new(0.25).unwrap());
    let cifar = noise.draw_error(3 * 32 * 32);
    assert!(cifar > 0.0 && cifar < 1e-8, "{cifar}");
    assert!((noise.draw_error(2 * 784) / noise.draw_error(784) - 2.0).abs() < 1e-12);
}

#[test]
fn inputs_are_rounded_to_the_nearest_grid_point() {
    let eight_bit: Vec<f32> = (0..=255u8).map(grid_value).collect();
    assert!(eight_bit.iter().enumerate().all(|(j, &value)| usize::from(grid_index(value)) == j));
    assert_eq!(grid_distance(&eight_bit), 0.0);
    // 17 grey levels, k/16: 3/16 · 255 = 47.8 rounds to 48.
    assert_eq!(grid_index(3.0 / 16.0), 48);
    let distance = grid_distance(&[3.0 / 16.0, 3.0 / 16.0]);
    assert!((distance - 2f64.sqrt() * (48.0 / 255.0 - 3.0 / 16.0)).abs() < 1e-8, "{distance}");
    assert_eq!(grid_index(-0.2), 0);
}

#[test]
fn widened_bounds_give_up_exactly_the_slack() {
    use csrs_cost::CostRow;
    use csrs_stats::{Alpha, BinomialSample, Bounds, ClassCounts, HarmRadius, certify_with, normal_ppf};
    let (smoothing, alpha) = (Smoothing::gaussian(0.5).unwrap(), Alpha::new(0.001).unwrap());
    let counts = ClassCounts::new(vec![9_100, 500, 400]).unwrap();
    let slack = 1e-3;

    let standard = certify_with(&counts, &counts, None, smoothing, alpha, Bounds::FIXED_N.widened(slack)).unwrap();
    let top = BinomialSample::new(9_100, 10_000).unwrap();
    assert_eq!(standard.p_lower, top.lower(alpha) - slack);
    let radius = standard.standard.radius().unwrap().get();
    assert!((radius - 0.5 * normal_ppf(top.lower(alpha) - slack)).abs() < 1e-12);

    // Certify-CS: p̲ down and the harmful class's bound up, anytime too.
    let costs = [0.0, 0.0, 1.0];
    let row = CostRow::new(&costs, 0).unwrap();
    let widened = certify_with(&counts, &counts, Some(&row), smoothing, alpha, Bounds::ANYTIME.widened(slack)).unwrap();
    assert_eq!(widened.p_lower, top.sequential_lower(alpha.split(2)) - slack);
    let harmful = BinomialSample::new(400, 10_000).unwrap().sequential_upper(alpha.split(2)) + slack;
    let expected = 0.25 * (normal_ppf(widened.p_lower) - normal_ppf(harmful));
    assert_eq!(
        widened.cost_sensitive.unwrap().radius(),
        HarmRadius::Certified(csrs_stats::Radius::new(expected).unwrap())
    );

    // Bounds stay probabilities.
    let all = ClassCounts::new(vec![0, 10_000, 0]).unwrap();
    let certificate = certify_with(&all, &all, Some(&row), smoothing, alpha, Bounds::FIXED_N.widened(0.5)).unwrap();
    assert!(certificate.p_lower >= 0.0);
}
