//! The noisy copies training forms: Gaussian as drawn, sound on the grid
//! as certification forms them, with the gradient of x + δ.

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use csrs_sampling::NoiseKind;
use csrs_train::noise::NoisyCopies;

type B = Autodiff<Flex>;

fn values(t: Tensor<B, 4>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

#[test]
fn sound_copies_are_the_grid_sums_certification_classifies() {
    let device = Default::default();
    // Two images of two pixels, two copies each; 0.31 is off the grid.
    let images = Tensor::<B, 1>::from_floats([0.31, 1.0, 0.0, 0.5], &device).reshape([2, 1, 1, 2]);
    let delta = [0.01, 0.2, -0.4, 0.0031, 0.71, -0.002, -0.31, 0.6];
    let noise = Tensor::<B, 1>::from_floats(delta, &device).reshape([4, 1, 1, 2]);

    let gaussian = values(NoisyCopies::new(noise.clone(), NoiseKind::Gaussian).of(images.clone()));
    let pixels = [0.31f32, 1.0, 0.31, 1.0, 0.0, 0.5, 0.0, 0.5];
    for ((got, x), d) in gaussian.iter().zip(pixels).zip(delta) {
        assert!((got - (x + d)).abs() < 1e-6);
    }

    let x = images.require_grad();
    let sound = NoisyCopies::new(noise, NoiseKind::Sound).of(x.clone());
    for ((got, x), d) in values(sound.clone()).iter().zip(pixels).zip(delta) {
        let index = ((x * 255.0).round() + (d * 255.0).round()).clamp(0.0, 255.0);
        assert_eq!(*got, index / 255.0, "{x} + {d}");
    }
    // Clipped at 1 (1.0 + 0.2) and at 0 (0.0 − 0.31). (No value here is half a step
    // from the grid, where burn rounds to even and the certifier away from 0.)
    assert_eq!(values(sound.clone())[1], 1.0);
    assert_eq!(values(sound.clone())[6], 0.0);

    // Straight through: d(Σ copies)/dx is the number of copies of each pixel.
    let gradient = x.grad(&sound.sum().backward()).unwrap();
    assert_eq!(gradient.into_data().to_vec::<f32>().unwrap(), vec![2.0; 4]);
}
