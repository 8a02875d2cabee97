//! The ℓ₂ attack on the soft smoothed classifier: it stays in its ball and
//! in [0, 1], and it lowers the smoothed probability of the true class.

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::softmax;
use csrs_data::{DatasetName, Split, load};
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::NoiseKind;
use csrs_train::attack::L2Attack;
use csrs_train::noise::NoisyCopies;

use crate::BACKEND_RNG;

type B = Autodiff<Flex>;

/// −log of the smoothed probability of each true class, `[b]`.
fn smoothed_loss(model: &Classifier<B>, x: Tensor<B, 4>, labels: Tensor<B, 1, Int>, noise: Tensor<B, 4>) -> Vec<f32> {
    let [b, c, h, w] = x.dims();
    let copies = noise.dims()[0] / b;
    let repeated = x.reshape([b, 1, c, h, w]).repeat_dim(1, copies).reshape([b * copies, c, h, w]);
    let p = softmax(model.forward(repeated + noise), 1).reshape([b, copies, 10]).mean_dim(1).reshape([b, 10]);
    p.gather(1, labels.unsqueeze_dim(1)).log().neg().into_data().to_vec::<f32>().unwrap()
}

#[test]
fn pgd_stays_in_its_ball_and_raises_the_smoothed_loss() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let device = Default::default();
    B::seed(&device, 7);
    let data = load(DatasetName::Digits, Split::Test, None).unwrap();
    let spec = ModelSpec {
        architecture: Architecture::Mlp,
        n_classes: 10,
        input_shape: [1, 8, 8],
        mean: vec![0.0],
        std: vec![1.0],
        graph: None,
    };
    let model = Classifier::<B>::init(&spec, &device).unwrap();
    let indices: Vec<usize> = (0..8).collect();
    let pixels: Vec<f32> = indices.iter().flat_map(|&i| data.image(i).unwrap().into_owned()).collect();
    let images = Tensor::<B, 1>::from_floats(pixels.as_slice(), &device).reshape([8, 1, 8, 8]);
    let labels = Tensor::<B, 1, Int>::from_ints(
        indices.iter().map(|&i| data.label(i) as i32).collect::<Vec<_>>().as_slice(),
        &device,
    );
    let noise = Tensor::<B, 4>::random([8 * 4, 1, 8, 8], Distribution::Normal(0.0, 0.25), &device);

    let epsilon = 0.5;
    let copies = NoisyCopies::new(noise.clone(), NoiseKind::Gaussian);
    let adversarial = L2Attack::pgd(epsilon, 5).attack(&model, images.clone(), labels.clone(), &copies);
    let delta = (adversarial.clone() - images.clone()).reshape([8, 64]);
    let norms: Vec<f32> = delta.powi_scalar(2).sum_dim(1).sqrt().into_data().to_vec().unwrap();
    assert!(norms.iter().all(|&n| n <= epsilon as f32 * 1.0001), "norms {norms:?}");
    assert!(norms.iter().any(|&n| n > 0.1), "the attack moved nothing: {norms:?}");
    let values: Vec<f32> = adversarial.clone().into_data().to_vec().unwrap();
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)), "pixels left [0, 1]");

    let before = smoothed_loss(&model, images.clone(), labels.clone(), noise.clone());
    let after = smoothed_loss(&model, adversarial, labels.clone(), noise.clone());
    for (b, a) in before.iter().zip(&after) {
        assert!(a > b, "the attack lowered the loss: {b} -> {a}");
    }

    // Through sound noise's rounding, by its straight-through gradient: the
    // attack still moves the images.
    let sound = NoisyCopies::new(noise, NoiseKind::Sound);
    let adversarial = L2Attack::pgd(epsilon, 5).attack(&model, images.clone(), labels, &sound);
    let moved: Vec<f32> =
        (adversarial - images).reshape([8, 64]).powi_scalar(2).sum_dim(1).sqrt().into_data().to_vec().unwrap();
    assert!(moved.iter().all(|&n| n <= epsilon as f32 * 1.0001) && moved.iter().any(|&n| n > 0.1), "{moved:?}");
}
