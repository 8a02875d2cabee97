//! Throughput of the certification statistics: bounds/s and certificates/s.
//!
//! Run with `cargo bench -p csrs-stats`; numbers are kept in
//! `docs/performance.md`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use csrs_cost::CostRow;
use csrs_stats::{Alpha, BinomialSample, ClassCounts, Smoothing, certify, predict};

/// Bounds in both regimes: few harmful draws (exact tail sums) and a large
/// top-class count (polished Beta quantile).
fn bounds(c: &mut Criterion) {
    let alpha = Alpha::new(0.001).unwrap();
    let mut group = c.benchmark_group("clopper_pearson");
    group.throughput(Throughput::Elements(1));
    for (k, n) in [(3, 100_000), (60, 100_000), (61_000, 100_000), (99_990, 100_000)] {
        let sample = BinomialSample::new(k, n).unwrap();
        group.bench_with_input(BenchmarkId::new("lower", format!("{k}_of_{n}")), &sample, |b, s| {
            b.iter(|| black_box(s).lower(alpha))
        });
        group.bench_with_input(BenchmarkId::new("upper", format!("{k}_of_{n}")), &sample, |b, s| {
            b.iter(|| black_box(s).upper(alpha))
        });
    }
    group.finish();
}

/// Counts of n = 100 000 draws over `m` classes: 60% on class 0, the rest
/// spread by a fixed linear congruential sequence.
fn counts(m: usize, n: u64) -> ClassCounts {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut counts = vec![0u64; m];
    counts[0] = n * 6 / 10;
    for _ in 0..(n - counts[0]) {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        counts[1 + (state >> 33) as usize % (m - 1)] += 1;
    }
    ClassCounts::new(counts).unwrap()
}

fn certificates(c: &mut Criterion) {
    let (smoothing, alpha) = (Smoothing::gaussian(0.5).unwrap(), Alpha::new(0.001).unwrap());
    let mut group = c.benchmark_group("certify");
    group.throughput(Throughput::Elements(1));
    for m in [10, 1000] {
        let selection = counts(m, 100);
        let estimation = counts(m, 100_000);
        // Standard mode, a binary seedwise row, and a real-valued row with
        // three cost levels.
        let zeros = vec![0.0; m];
        let seedwise: Vec<f64> = (0..m).map(|k| if k == 0 { 0.0 } else { 1.0 }).collect();
        let real: Vec<f64> = (0..m).map(|k| [0.0, 1.0, 2.0, 5.0][k % 4]).collect();
        for (name, costs) in [("standard", &zeros), ("seedwise", &seedwise), ("real_3_levels", &real)] {
            let row = CostRow::new(costs, 0).unwrap();
            group.bench_function(BenchmarkId::new(name, format!("m{m}")), |b| {
                b.iter(|| certify(black_box(&selection), black_box(&estimation), Some(&row), smoothing, alpha).unwrap())
            });
        }
        group.bench_function(BenchmarkId::new("predict", format!("m{m}")), |b| {
            b.iter(|| predict(black_box(&estimation), alpha))
        });
    }
    group.finish();
}

criterion_group!(benches, bounds, certificates);
criterion_main!(benches);
