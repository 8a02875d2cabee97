//! Counting in another precision through `class_counter`, on burn's flex
//! backend (which computes bf16 and f16 as a GPU would, only slower): the
//! same noise, drawn in f32, and the same counts but for the draws whose
//! classes the rounding moves.

use burn::backend::Flex;
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_run::{Counting, Precision, class_counter};
use csrs_sampling::{Noise, NoiseStream, Phase};
use csrs_stats::Sigma;

#[test]
fn half_precision_counts_follow_the_f32_counts() {
    let spec = ModelSpec {
        architecture: Architecture::DigitsCnn,
        n_classes: 10,
        input_shape: [1, 8, 8],
        mean: vec![0.5],
        std: vec![0.25],
        graph: None,
    };
    let device = Default::default();
    <Flex as burn::prelude::Backend>::seed(&device, 5);
    let model = Classifier::<Flex>::init(&spec, &device).unwrap();
    let noise = Noise::Gaussian(Sigma::new(1.0).unwrap());
    let input: Vec<f32> = (0..64).map(|i| (i % 7) as f32 / 7.0).collect();
    let n = 2000;
    let count = |precision| {
        let mut counter = class_counter(model.clone(), &spec, Counting::Burn(precision), device, 500).unwrap();
        counter.count(&input, &noise, n, NoiseStream::new(3, 0), Phase::Estimation).unwrap()
    };
    let exact = count(Precision::F32);
    let spread = exact.iter().filter(|&&c| c >= n / 20).count();
    assert!(spread >= 2, "the noisy copies should fall in several classes: {exact:?}");
    // burn's tf32 is its f32 on the CPU.
    assert_eq!(count(Precision::Tf32), exact);
    for precision in [Precision::Bf16, Precision::F16] {
        let counts = count(precision);
        assert_eq!(counts.iter().sum::<u64>(), n, "{precision}");
        let moved = exact.iter().zip(&counts).map(|(a, b)| a.abs_diff(*b)).sum::<u64>() / 2;
        assert!(moved <= n / 50, "{precision}: the counts moved by {moved} of {n} draws: {exact:?} against {counts:?}");
    }
}
