//! The noisy copies a batch trains on, formed as certification forms them.

use burn::prelude::*;
use burn::tensor::Distribution;
use csrs_sampling::NoiseKind;
use csrs_stats::GRID_STEPS;

/// One batch's noise δ, `[b · m, c, h, w]` (m copies per image, grouped by
/// image), and how it is added to an image.
///
/// Gaussian noise is added as it is. Sound noise trains on what sound
/// certification classifies: the image and δ each rounded to the 1/255
/// grid, their sum clipped to [0, 1]. Rounding has no gradient, so the
/// gradient with respect to the image is that of x + δ (a straight-through
/// estimate), which the attacks of SmoothAdv and SmoothMix follow.
#[derive(Debug, Clone)]
pub struct NoisyCopies<B: Backend> {
    delta: Tensor<B, 4>,
    kind: NoiseKind,
}

impl<B: Backend> NoisyCopies<B> {
    /// Fresh N(0, σ²) noise for `copies` copies of each of `images`, from
    /// the backend's generator.
    pub fn draw(images: &Tensor<B, 4>, copies: usize, sigma: f64, kind: NoiseKind) -> Self {
        let [b, c, h, w] = images.dims();
        let delta = Tensor::random([b * copies, c, h, w], Distribution::Normal(0.0, sigma), &images.device());
        NoisyCopies { delta, kind }
    }

    /// Given noise `delta`, `[b · m, c, h, w]`.
    pub fn new(delta: Tensor<B, 4>, kind: NoiseKind) -> Self {
        NoisyCopies { delta, kind }
    }

    /// The noisy copies of `images` `[b, c, h, w]`: `[b · m, c, h, w]`.
    pub fn of(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        let [b, ..] = images.dims();
        let copies = self.delta.dims()[0] / b.max(1);
        let images = repeat_copies(images, copies);
        let noisy = images.clone() + self.delta.clone();
        match self.kind {
            NoiseKind::Gaussian => noisy,
            NoiseKind::Sound => {
                let steps = f64::from(GRID_STEPS);
                let on_grid = (images.detach().mul_scalar(steps).round()
                    + self.delta.clone().mul_scalar(steps).round())
                .clamp(0.0, steps)
                .div_scalar(steps);
                noisy.clone() + (on_grid - noisy.detach())
            }
        }
    }
}

/// Each image `copies` times in a row: `[b, c, h, w]` → `[b · copies, c, h, w]`.
pub(crate) fn repeat_copies<B: Backend>(images: Tensor<B, 4>, copies: usize) -> Tensor<B, 4> {
    let [b, c, h, w] = images.dims();
    images.reshape([b, 1, c, h, w]).repeat_dim(1, copies).reshape([b * copies, c, h, w])
}
