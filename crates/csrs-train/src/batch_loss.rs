//! The loss of one batch under a training method: the noisy copies, the
//! attack where the method has one, and the objective of [`crate::loss`].
//!
//! The random numbers a batch uses are drawn apart from the loss
//! ([`Draws`]), so that the same loss can be computed on given noise: the
//! trainer draws them from the backend's generator, and the cross-framework
//! check of `csrs.torch.losses` hands both sides the same ones.

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::backend::AutodiffBackend;
use csrs_cost::CostMatrix;
use csrs_models::Classifier;
use csrs_sampling::NoiseKind;

use crate::attack::L2Attack;
use crate::config::Objective;
use crate::loss::{
    LossParts, MacerParams, SensitiveSets, denoiser_mse, denoiser_stab, gaussian, gaussian_cs, macer, macer_cs,
    smoothmix,
};
use crate::noise::{NoisyCopies, repeat_copies};
use crate::trainee::{Denoised, Trainee};
use crate::{Result, TrainError};

/// A training method as one batch's loss needs it: the objective, σ, the
/// cost matrix of a `-cs` objective and how far its attack has warmed up.
#[derive(Debug, Clone, Copy)]
pub struct Method<'a> {
    objective: &'a Objective,
    sigma: f64,
    costs: Option<&'a CostMatrix>,
    warmup: f64,
    /// Whether a denoiser objective is in its MSE warm-up.
    mse: bool,
}

impl<'a> Method<'a> {
    /// `objective` at noise level `sigma`, with `costs` for a cost-sensitive
    /// objective, at epoch `epoch` (from 0) of its warm-up.
    ///
    /// # Errors
    /// [`TrainError::CostMatrix`]: a cost-sensitive objective without a cost
    /// matrix, or a matrix for one that does not use it.
    pub fn new(objective: &'a Objective, sigma: f64, costs: Option<&'a CostMatrix>, epoch: usize) -> Result<Self> {
        if objective.is_cost_sensitive() != costs.is_some() {
            return Err(TrainError::CostMatrix { method: objective.method_name(), given: costs.is_some() });
        }
        Ok(Method { objective, sigma, costs, warmup: objective.warmup(epoch), mse: objective.in_mse_warmup(epoch) })
    }
}

/// The random numbers of one batch's loss.
#[derive(Debug, Clone)]
pub struct Draws<B: Backend> {
    /// The noise of the copies, `[b · copies, c, h, w]` (grouped by image).
    pub noise: NoisyCopies<B>,
    /// SmoothMix's share of the way from each image to its adversarial
    /// point, `[b]` in [0, ½) (absent for the other objectives).
    pub mix: Option<Tensor<B, 1>>,
}

impl<B: Backend> Draws<B> {
    /// Fresh draws for `images` from the backend's generator: N(0, σ²) noise
    /// for each copy, then (SmoothMix) a share from U(0, ½) per image.
    pub fn draw(method: &Method<'_>, images: &Tensor<B, 4>, kind: NoiseKind) -> Self {
        let noise = NoisyCopies::draw(images, method.objective.copies(), method.sigma, kind);
        let mix = matches!(method.objective, Objective::SmoothMix { .. })
            .then(|| Tensor::random([images.dims()[0]], Distribution::Uniform(0.0, 0.5), &images.device()));
        Draws { noise, mix }
    }
}

/// [`batch_loss`] of a classifier or [`denoiser_loss`] of a denoiser,
/// whichever `model` trains.
///
/// # Panics
/// As they do.
pub fn trainee_loss<B: AutodiffBackend>(
    model: &Trainee<B>,
    method: &Method<'_>,
    images: Tensor<B, 4>,
    labels: &[usize],
    draws: &Draws<B>,
) -> (LossParts<B>, Tensor<B, 3>) {
    match model {
        Trainee::Classifier(model) => batch_loss(model, method, images, labels, draws),
        Trainee::Denoiser(model) => denoiser_loss(model, method, images, labels, draws),
    }
}

/// The loss of a denoiser objective on `images` `[b, c, h, w]` of classes
/// `labels` through the frozen classifier, and the classifier's logits of
/// the denoised copies, `[b, copies, m]`: MSE (also in the warm-up of the
/// others), stability against f(x), or MACER on the true classes.
///
/// # Panics
/// For a classifier's objective (which [`crate::train`] refuses for a
/// denoiser), or a label that is not a class of the cost matrix.
pub fn denoiser_loss<B: AutodiffBackend>(
    model: &Denoised<B>,
    method: &Method<'_>,
    images: Tensor<B, 4>,
    labels: &[usize],
    draws: &Draws<B>,
) -> (LossParts<B>, Tensor<B, 3>) {
    let device = images.device();
    let b = labels.len();
    let copies = method.objective.copies();
    let label_tensor = int_tensor::<B>(labels, &device);
    let sets =
        || SensitiveSets::<B>::new(method.costs.expect("Method::new: a -cs objective has its matrix"), labels, &device);
    let denoised = model.denoiser.forward(draws.noise.of(images.clone()));
    let logits = model.classifier.forward(denoised.clone());
    let m = logits.dims()[1];
    let logits = logits.reshape([b, copies, m]);
    if method.mse {
        return (denoiser_mse(denoised, repeat_copies(images, copies)), logits);
    }
    let parts = match method.objective {
        Objective::DenoiserMse => denoiser_mse(denoised, repeat_copies(images, copies)),
        Objective::DenoiserStab { cost_sensitive, .. } => {
            let clean = model.classifier.forward(images).argmax(1).reshape([b]);
            let hinge = *cost_sensitive;
            let sets = hinge.map(|_| sets());
            let cost_sensitive = hinge.zip(sets.as_ref()).map(|(hinge, sets)| (label_tensor, sets, hinge));
            denoiser_stab(logits.clone(), clean, method.sigma, cost_sensitive)
        }
        &Objective::DenoiserMacer { beta, lambda, gamma, cost_sensitive, .. } => {
            let params = MacerParams { sigma: method.sigma, beta, gamma, lambda };
            match cost_sensitive {
                Some(cs) => macer_cs(logits.clone(), label_tensor, &sets(), params, cs.gamma_sensitive),
                None => macer(logits.clone(), label_tensor, params),
            }
        }
        Objective::Gaussian { .. }
        | Objective::Macer { .. }
        | Objective::SmoothAdv { .. }
        | Objective::SmoothMix { .. } => {
            unreachable!("train refuses a classifier's objective for a denoiser")
        }
    };
    (parts, logits)
}

/// The loss of `method` on `images` `[b, c, h, w]` of classes `labels`, and
/// the logits of the noisy copies it trained on, `[b, copies, m]`.
///
/// # Panics
/// If a label is not a class of the cost matrix, SmoothMix's draws have
/// no `mix`, or the objective is a denoiser's (which [`crate::train`]
/// refuses for a classifier).
pub fn batch_loss<B: AutodiffBackend>(
    model: &Classifier<B>,
    method: &Method<'_>,
    images: Tensor<B, 4>,
    labels: &[usize],
    draws: &Draws<B>,
) -> (LossParts<B>, Tensor<B, 3>) {
    let device = images.device();
    let b = labels.len();
    let copies = method.objective.copies();
    let label_tensor = int_tensor::<B>(labels, &device);
    let noise = &draws.noise;
    let forward = |x: Tensor<B, 4>| {
        let logits = model.forward(noise.of(x));
        let m = logits.dims()[1];
        logits.reshape([b, copies, m])
    };
    // Method::new checked that the -cs objectives have a cost matrix.
    let sets = |labels: &[usize]| SensitiveSets::<B>::new(method.costs.expect("checked"), labels, &device);
    let flat = |logits: &Tensor<B, 3>| {
        let [b, copies, m] = logits.dims();
        logits.clone().reshape([b * copies, m])
    };
    match method.objective {
        Objective::Gaussian { cost_sensitive } => {
            let logits = forward(images);
            let parts = match cost_sensitive {
                Some(cs) => gaussian_cs(flat(&logits), label_tensor, &sets(labels), cs.weight),
                None => gaussian(flat(&logits), label_tensor),
            };
            (parts, logits)
        }
        &Objective::Macer { beta, lambda, gamma, cost_sensitive, .. } => {
            let params = MacerParams { sigma: method.sigma, beta, gamma, lambda };
            let logits = forward(images);
            let parts = match cost_sensitive {
                Some(cs) => macer_cs(logits.clone(), label_tensor, &sets(labels), params, cs.gamma_sensitive),
                None => macer(logits.clone(), label_tensor, params),
            };
            (parts, logits)
        }
        &Objective::SmoothAdv { epsilon, attack_steps, cost_sensitive, .. } => {
            let attack = L2Attack::pgd(epsilon * method.warmup, attack_steps);
            let logits = forward(attack.attack(model, images, label_tensor, noise));
            let repeated: Vec<usize> = labels.iter().flat_map(|&y| std::iter::repeat_n(y, copies)).collect();
            let repeated_tensor = int_tensor::<B>(&repeated, &device);
            let parts = match cost_sensitive {
                Some(cs) => gaussian_cs(flat(&logits), repeated_tensor, &sets(&repeated), cs.weight),
                None => gaussian(flat(&logits), repeated_tensor),
            };
            (parts, logits)
        }
        &Objective::SmoothMix { attack_steps, attack_step_size, mix_weight, cost_sensitive, .. } => {
            let mix = draws.mix.clone().expect("SmoothMix's draws hold a mix");
            let attack = L2Attack { steps: attack_steps, step_size: attack_step_size, max_norm: None };
            let adversarial = attack.attack(model, images.clone(), label_tensor.clone(), noise);
            let mixed_images = images.clone() + (adversarial - images.clone()) * mix.clone().reshape([b, 1, 1, 1]);
            let clean = forward(images);
            let mixed = forward(mixed_images);
            let weighted = cost_sensitive.map(|cs| (sets(labels), cs.weight));
            let reweight = weighted.as_ref().map(|(sets, weight)| (sets, *weight));
            (smoothmix(clean.clone(), mixed, label_tensor, mix, mix_weight * method.warmup, reweight), clean)
        }
        Objective::DenoiserMse | Objective::DenoiserStab { .. } | Objective::DenoiserMacer { .. } => {
            unreachable!("train refuses a denoiser's objective for a classifier")
        }
    }
}

/// Class indices as an integer tensor.
pub(crate) fn int_tensor<B: Backend>(values: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    Tensor::from_ints(values.iter().map(|&v| v as i32).collect::<Vec<_>>().as_slice(), device)
}
