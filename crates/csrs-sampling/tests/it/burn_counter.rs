//! The burn counter: counts are complete, and independent of the batch size,
//! with csrs's own networks and with any other.

use burn::backend::Flex;
use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use csrs_cost::CostMatrix;
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::{BurnCounter, ClassCounter, Forward, Noise, NoiseStream, Phase, SamplingError, Smoothed};
use csrs_stats::{Alpha, GridGaussian, Sigma};

type B = Flex;

/// The flex backend has one random generator per process, from which
/// networks draw their weights: tests that seed it to build one must not
/// run at the same time. (The counters draw no noise from it.)
pub(crate) static BACKEND_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn counter(batch_size: usize) -> BurnCounter<B> {
    let device = Default::default();
    B::seed(&device, 3);
    let spec = ModelSpec {
        architecture: Architecture::DigitsCnn,
        n_classes: 10,
        input_shape: [1, 8, 8],
        mean: vec![0.3],
        std: vec![0.4],
        graph: None,
    };
    let model = Classifier::<B>::init(&spec, &device).unwrap();
    BurnCounter::new(model, device, [1, 8, 8], 10, batch_size)
}

fn input() -> Vec<f32> {
    (0..64).map(|i| ((i * 7) % 16) as f32 / 16.0).collect()
}

#[test]
fn counts_do_not_depend_on_the_batch_size() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let sigma = Sigma::new(0.5).unwrap();
    let stream = NoiseStream::new(42, 7);
    let reference = counter(100).count(&input(), &sigma.into(), 1050, stream, Phase::Estimation).unwrap();
    assert_eq!(reference.iter().sum::<u64>(), 1050);
    assert!(reference.iter().filter(|&&c| c > 0).count() >= 2, "noise should change some predictions: {reference:?}");
    for batch_size in [1, 250, 400, 5000] {
        let counts = counter(batch_size).count(&input(), &sigma.into(), 1050, stream, Phase::Estimation).unwrap();
        assert_eq!(counts, reference, "batch size {batch_size}");
    }
    let other_example =
        counter(400).count(&input(), &sigma.into(), 1050, NoiseStream::new(42, 8), Phase::Estimation).unwrap();
    assert_ne!(other_example, reference);
}

#[test]
fn inputs_counted_together_get_the_counts_they_get_alone() {
    use csrs_sampling::Draws;
    let _rng = BACKEND_RNG.lock().unwrap();
    let inputs: Vec<Vec<f32>> =
        (0..3).map(|k| input().iter().map(|x| (x + 0.2 * k as f32).min(1.0)).collect()).collect();
    let sigma = Sigma::new(1.0).unwrap();
    for noise in [Noise::Gaussian(sigma), Noise::Sound(GridGaussian::new(sigma))] {
        let draws: Vec<Draws<'_>> = inputs
            .iter()
            .zip([150, 30, 420])
            .enumerate()
            .map(|(k, (input, n))| Draws { input, n, stream: NoiseStream::new(4, k as u64), phase: Phase::Estimation })
            .collect();
        let together = counter(300).count_each(&noise, &draws).unwrap();
        for (d, counts) in draws.iter().zip(&together) {
            assert_eq!(*counts, counter(1000).count(d.input, &noise, d.n, d.stream, d.phase).unwrap());
        }
        assert!(together.iter().any(|counts| counts.iter().filter(|&&c| c > 0).count() >= 2), "{together:?}");
    }
}

#[test]
fn certify_through_a_model() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let matrix = CostMatrix::seedwise(10, &[3]).unwrap();
    let mut smoothed = Smoothed::new(counter(500), Sigma::new(0.25).unwrap());
    let alpha = Alpha::new(0.001).unwrap();
    let certified = smoothed.certify(&input(), Some(&matrix.row(3)), alpha, 100, 1000, NoiseStream::new(0, 0)).unwrap();
    assert_eq!(certified.selection.total(), 100);
    assert_eq!(certified.estimation.total(), 1000);
    assert!(certified.certificate.cost_sensitive.is_some());

    let err = smoothed.certify(&input()[..10], None, alpha, 100, 1000, NoiseStream::new(0, 0)).unwrap_err();
    assert!(matches!(err, SamplingError::InputSize { got: 10, expected: 64 }));
    let err = smoothed.certify(&input(), None, alpha, 0, 1000, NoiseStream::new(0, 0)).unwrap_err();
    assert_eq!(err.to_string(), "n0 is 0, expected at least one draw");
    let small = CostMatrix::seedwise(3, &[1]).unwrap();
    let err = smoothed.certify(&input(), Some(&small.row(1)), alpha, 100, 100, NoiseStream::new(0, 0)).unwrap_err();
    assert_eq!(err.to_string(), "cost row has 3 classes, expected 10 (the model's classes)");
    let predicted = smoothed.predict(&input(), alpha, 300, NoiseStream::new(0, 0)).unwrap();
    assert_eq!(predicted.counts.total(), 300);
}

/// A network of its own, not one of csrs's architectures: one linear layer
/// on the flattened 1×8×8 image, 10 classes.
#[derive(Module, Debug)]
struct OneLayer<B: Backend> {
    linear: Linear<B>,
}

impl<B: Backend> OneLayer<B> {
    /// The layer `x ↦ x·weight + bias`, `weight` `[64, n_classes]`.
    fn new(weight: Tensor<B, 2>, bias: Tensor<B, 1>) -> Self {
        OneLayer { linear: Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(bias)) } }
    }

    /// Weights and biases uniform on ±1/8, drawn now from the backend
    /// seeded with `seed`.
    fn random(seed: u64, device: &B::Device) -> Self {
        B::seed(device, seed);
        let uniform = Distribution::Uniform(-0.125, 0.125);
        OneLayer::new(Tensor::random([64, 10], uniform, device), Tensor::random([10], uniform, device))
    }

    /// Zero weights and a bias of 1 on class `class`: every image is of
    /// that class, whatever the noise.
    fn biased(class: usize, n_classes: usize, device: &B::Device) -> Self {
        let bias: Vec<f32> = (0..n_classes).map(|k| if k == class { 1.0 } else { 0.0 }).collect();
        OneLayer::new(Tensor::zeros([64, n_classes], device), Tensor::from_floats(bias.as_slice(), device))
    }

    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.linear.forward(images.flatten::<2>(1, 3))
    }
}

impl<B: Backend> Forward<B> for OneLayer<B> {
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.logits(images)
    }
}

/// The noise kernel of burn's wgpu backend (run on the CPU by a Vulkan
/// driver such as Mesa's lavapipe: `--features wgpu`), against the host's
/// noise on flex: one linear network, the same weights on both.
#[cfg(feature = "wgpu")]
#[test]
fn noise_drawn_on_the_device_is_counted_as_the_hosts() {
    use burn::backend::Wgpu;
    use burn::tensor::TensorData;

    fn network<B: Backend>(device: &B::Device) -> OneLayer<B> {
        let weights: Vec<f32> = (0..640).map(|i| ((i * 37 % 101) as f32 - 50.0) / 400.0).collect();
        let bias: Vec<f32> = (0..10).map(|k| k as f32 / 100.0).collect();
        OneLayer::new(
            Tensor::from_data(TensorData::new(weights, [64, 10]), device),
            Tensor::from_data(TensorData::new(bias, [10]), device),
        )
    }
    let device = burn::backend::wgpu::WgpuDevice::default();
    let mut gpu = BurnCounter::new(network::<Wgpu>(&device), device, [1, 8, 8], 10, 300);
    let mut cpu = BurnCounter::new(network::<B>(&Default::default()), Default::default(), [1, 8, 8], 10, 1000);
    for noise in noises(1.0) {
        let stream = NoiseStream::new(5, 1);
        let host = cpu.count(&input(), &noise, 4050, stream, Phase::Estimation).unwrap();
        let drawn = gpu.count(&input(), &noise, 4050, stream, Phase::Estimation).unwrap();
        assert!(host.iter().filter(|&&c| c > 40).count() >= 2, "noise should change some predictions: {host:?}");
        // Gaussians within a few units in the last place of the host's:
        // a draw on a decision boundary could move.
        let moved: u64 = host.iter().zip(&drawn).map(|(a, b)| a.abs_diff(*b)).sum();
        assert!(moved <= 4, "{noise:?}: {host:?} against {drawn:?}");
    }
}

fn noises(sigma: f64) -> [Noise; 2] {
    let sigma = Sigma::new(sigma).unwrap();
    [Noise::Gaussian(sigma), Noise::Sound(GridGaussian::new(sigma))]
}

#[test]
fn a_network_of_ones_own_is_counted_and_certified() {
    let _rng = BACKEND_RNG.lock().unwrap();
    for class in [0, 7] {
        let mut counter = BurnCounter::new(
            OneLayer::<B>::biased(class, 10, &Default::default()),
            Default::default(),
            [1, 8, 8],
            10,
            300,
        );
        let mut expected = vec![0; 10];
        expected[class] = 1050;
        for noise in noises(0.5) {
            let counts = counter.count(&input(), &noise, 1050, NoiseStream::new(1, 2), Phase::Estimation).unwrap();
            assert_eq!(counts, expected, "{noise:?}");
        }
        assert_eq!(counter.base_class(&input()).unwrap(), Some(class));

        let mut smoothed = Smoothed::new(counter, Sigma::new(0.25).unwrap());
        let alpha = Alpha::new(0.001).unwrap();
        let certified = smoothed.certify(&input(), None, alpha, 100, 1000, NoiseStream::new(0, 0)).unwrap();
        assert_eq!(certified.certificate.predicted, class);
        assert!(!certified.certificate.abstains());
        assert_eq!(certified.estimation.total(), 1000);
        let err = smoothed.certify(&input()[..10], None, alpha, 100, 1000, NoiseStream::new(0, 0)).unwrap_err();
        assert!(matches!(err, SamplingError::InputSize { got: 10, expected: 64 }));
    }
}

#[test]
fn a_closure_counts_as_the_module_does() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let device = Default::default();
    let net = OneLayer::<B>::random(5, &device);
    let copy = net.clone();
    let mut module = BurnCounter::new(net, device, [1, 8, 8], 10, 250);
    let mut closure =
        BurnCounter::<B, _>::new(move |images: Tensor<B, 4>| copy.logits(images), device, [1, 8, 8], 10, 1000);
    for noise in noises(1.0) {
        let stream = NoiseStream::new(9, 3);
        let counts = module.count(&input(), &noise, 1050, stream, Phase::Estimation).unwrap();
        assert_eq!(counts.iter().sum::<u64>(), 1050);
        assert!(counts.iter().filter(|&&c| c > 0).count() >= 2, "noise should change some predictions: {counts:?}");
        assert_eq!(closure.count(&input(), &noise, 1050, stream, Phase::Estimation).unwrap(), counts, "{noise:?}");
    }
    assert_eq!(closure.base_class(&input()).unwrap(), module.base_class(&input()).unwrap());
}

/// A network whose logits are over other classes than the counter's is an
/// error, counting or classifying the clean input.
#[test]
fn logits_over_other_classes_than_the_counters_are_refused() {
    let device = Default::default();
    let mut counter = BurnCounter::new(OneLayer::<B>::biased(1, 3, &device), device, [1, 8, 8], 10, 100);
    let sound = Noise::Sound(GridGaussian::new(Sigma::new(0.5).unwrap()));
    let err = counter.count(&input(), &sound, 100, NoiseStream::new(0, 0), Phase::Estimation).unwrap_err();
    assert_eq!(err.to_string(), "the model gives 3 logits per input, expected 10 (the counter's classes)");
    assert!(counter.base_class(&input()).is_err());
}
