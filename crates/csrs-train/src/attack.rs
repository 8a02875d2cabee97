//! ℓ₂ attacks on the soft smoothed classifier, for SmoothAdv (Salman et
//! al. 2019) and SmoothMix (Jeong et al. 2021).
//!
//! The smoothed classifier is estimated with m fixed noise draws per
//! example, G(x) = mean_j softmax(f(x + δ_j)); each step moves x along the
//! normalised gradient of −log G(x)_y, so the attack aims at the classifier
//! that is certified rather than at the base model.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use csrs_models::Classifier;

use crate::noise::NoisyCopies;

/// How far and how the attack moves each image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct L2Attack {
    /// Gradient steps T.
    pub steps: usize,
    /// Length of each step.
    pub step_size: f64,
    /// Radius of the ℓ₂ ball around the clean image the attack stays in
    /// (`None`: unbounded, as in SmoothMix).
    pub max_norm: Option<f64>,
}

impl L2Attack {
    /// SmoothAdv's PGD: T steps of 2ε/T inside the ball of radius ε.
    pub fn pgd(epsilon: f64, steps: usize) -> Self {
        L2Attack { steps, step_size: 2.0 * epsilon / steps.max(1) as f64, max_norm: Some(epsilon) }
    }

    /// Attacks `images` `[b, c, h, w]` (pixels in [0, 1]) of true classes
    /// `labels` `[b]`, with the noise `noise` (m draws per image). Returns
    /// the adversarial images, detached, still in [0, 1].
    pub fn attack<B: AutodiffBackend>(
        &self,
        model: &Classifier<B>,
        images: Tensor<B, 4>,
        labels: Tensor<B, 1, Int>,
        noise: &NoisyCopies<B>,
    ) -> Tensor<B, 4> {
        let [b, ..] = images.dims();
        let clean = images.detach();
        let mut adversarial = clean.clone();
        for _ in 0..self.steps {
            let x = adversarial.clone().require_grad();
            let logits = model.forward(noise.of(x.clone()));
            let [copies_total, m] = logits.dims();
            let copies = copies_total / b.max(1);
            let smoothed = softmax(logits, 1).reshape([b, copies, m]).mean_dim(1).reshape([b, m]);
            let loss = smoothed.gather(1, labels.clone().unsqueeze_dim(1)).clamp_min(1e-20).log().neg().sum();
            let gradient = x.grad(&loss.backward()).map(Tensor::<B, 4>::from_inner);
            let Some(gradient) = gradient else { break };
            let direction = gradient.clone() / (l2_norms(gradient) + 1e-12);
            let moved = adversarial + direction.mul_scalar(self.step_size);
            adversarial = project(moved, clean.clone(), self.max_norm).detach();
        }
        adversarial
    }
}

/// The ℓ₂ norm of each image, `[b, 1, 1, 1]`.
fn l2_norms<B: Backend>(images: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, ..] = images.dims();
    images.powi_scalar(2).flatten::<2>(1, 3).sum_dim(1).sqrt().reshape([b, 1, 1, 1])
}

/// Back into the ball of radius `max_norm` around `clean`, then into [0, 1].
fn project<B: Backend>(x: Tensor<B, 4>, clean: Tensor<B, 4>, max_norm: Option<f64>) -> Tensor<B, 4> {
    let x = match max_norm {
        Some(radius) => {
            let delta = x - clean.clone();
            let scale = (l2_norms(delta.clone()) + 1e-12).recip().mul_scalar(radius).clamp_max(1.0);
            clean + delta * scale
        }
        None => x,
    };
    x.clamp(0.0, 1.0)
}
