//! Noisy-sample throughput (samples/s) of the native counter (the compiled
//! CPU engine) and of the burn counter on the flex backend, and the time of
//! one whole certification.

use std::hint::black_box;

use burn::backend::Flex;
use burn::prelude::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use csrs_cost::CostMatrix;
use csrs_engine::Engine;
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::{BurnCounter, ClassCounter, NativeCounter, NoiseStream, Phase, Smoothed};
use csrs_stats::{Alpha, Sigma};

type B = Flex;

/// The allocator of the `csrs` binary, so that the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 400;

/// An untrained model's counter: `native` (the compiled engine on every
/// core) or burn's.
fn counter(architecture: Architecture, input_shape: [usize; 3], native: bool) -> Box<dyn ClassCounter> {
    let device = Default::default();
    B::seed(&device, 0);
    let channels = input_shape[0];
    let spec = ModelSpec {
        architecture,
        n_classes: 10,
        input_shape,
        mean: vec![0.5; channels],
        std: vec![0.25; channels],
        graph: None,
    };
    let model = Classifier::<B>::init(&spec, &device).unwrap();
    if native {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Box::new(NativeCounter::new(Engine::from_classifier(&model, &spec).unwrap(), BATCH, threads))
    } else {
        Box::new(BurnCounter::new(model, device, input_shape, 10, BATCH))
    }
}

fn input(shape: [usize; 3]) -> Vec<f32> {
    (0..shape.iter().product::<usize>()).map(|i| (i % 29) as f32 / 29.0).collect()
}

/// One batch of 400 noisy copies: noise, forward pass, arg-max, counting.
fn throughput(c: &mut Criterion) {
    let sigma = Sigma::new(0.25).unwrap();
    let mut group = c.benchmark_group("samples");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    let models = [
        ("digits-cnn_1x8x8", Architecture::DigitsCnn, [1, 8, 8]),
        ("lenet5_1x28x28", Architecture::Lenet5, [1, 28, 28]),
        ("cifar-resnet20_3x32x32", Architecture::CifarResnet20, [3, 32, 32]),
        ("cifar-resnet110_3x32x32", Architecture::CifarResnet110, [3, 32, 32]),
    ];
    for ((name, architecture, shape), native) in models.into_iter().flat_map(|m| [(m, true), (m, false)]) {
        if !native && architecture == Architecture::CifarResnet110 {
            continue; // minutes per batch with burn's forward pass
        }
        let mut counter = counter(architecture, shape, native);
        let x = input(shape);
        let mut example = 0;
        let engine = if native { "native" } else { "burn" };
        group.bench_function(BenchmarkId::new(name, format!("{engine}_batch{BATCH}")), |b| {
            b.iter(|| {
                example += 1;
                black_box(counter.count(
                    &x,
                    &sigma.into(),
                    BATCH as u64,
                    NoiseStream::new(0, example),
                    Phase::Estimation,
                ))
            })
        });
    }
    group.finish();
}

/// Certify-CS of one LeNet example: n0 = 100, n = 10 000.
fn certify_one(c: &mut Criterion) {
    let shape = [1, 28, 28];
    let mut smoothed = Smoothed::new(counter(Architecture::Lenet5, shape, true), Sigma::new(0.25).unwrap());
    let matrix = CostMatrix::seedwise(10, &[3]).unwrap();
    let x = input(shape);
    let alpha = Alpha::new(0.001).unwrap();
    let mut group = c.benchmark_group("certify");
    group.sample_size(10);
    group.throughput(Throughput::Elements(10_100));
    group.bench_function("lenet5_n0-100_n-10000", |b| {
        b.iter(|| smoothed.certify(&x, Some(&matrix.row(3)), alpha, 100, 10_000, NoiseStream::new(0, 0)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, throughput, certify_one);
criterion_main!(benches);
