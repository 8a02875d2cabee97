//! Training objectives (SPEC §5), from logits on noisy copies.
//!
//! Each returns [`LossParts`]: the total to differentiate, and its parts for
//! the training log. Sums are divided by the batch size, as in SPEC §5.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use csrs_cost::CostMatrix;

use crate::config::StabSensitive;
use crate::normal::icdf;

/// A loss and its parts, each already divided by the batch size.
#[derive(Debug, Clone)]
pub struct LossParts<B: Backend> {
    /// What the optimiser minimises, `[1]`.
    pub total: Tensor<B, 1>,
    /// The classification part, `[1]`.
    pub classification: Tensor<B, 1>,
    /// The robustness hinge on sensitive examples, `[1]` (0 for methods
    /// without one).
    pub robustness_sensitive: Tensor<B, 1>,
    /// The robustness term on the other examples (on every example for
    /// methods that do not split them), `[1]`.
    pub robustness_normal: Tensor<B, 1>,
}

/// Which examples of a batch are sensitive, and against which classes.
#[derive(Debug, Clone)]
pub struct SensitiveSets<B: Backend> {
    /// Ω_y of each example, `[batch, n_classes]`.
    pub harmful: Tensor<B, 2, Bool>,
    /// Whether Ω_y is not empty, `[batch]`.
    pub sensitive: Tensor<B, 1, Bool>,
    /// Whether Ω_y is every other class (a seedwise row), `[batch]`: the
    /// cost-sensitive margin then starts from the true class, otherwise
    /// from the most probable class.
    pub seedwise: Tensor<B, 1, Bool>,
}

impl<B: Backend> SensitiveSets<B> {
    /// The sets of a batch with true classes `labels` under `costs`.
    ///
    /// # Panics
    /// If a label is not a class of the matrix.
    pub fn new(costs: &CostMatrix, labels: &[usize], device: &B::Device) -> Self {
        let m = costs.n_classes();
        let harmful: Vec<bool> = labels.iter().flat_map(|&y| (0..m).map(move |k| costs.get(y, k) > 0.0)).collect();
        let sensitive: Vec<bool> = labels.iter().map(|&y| costs.row(y).is_seed()).collect();
        let seedwise: Vec<bool> = labels.iter().map(|&y| costs.row(y).sensitive_set().count() == m - 1).collect();
        let bools = |values: Vec<bool>, shape: Vec<usize>| {
            Tensor::<B, 1, Bool>::from_data(TensorData::new(values, [shape.iter().product::<usize>()]), device)
        };
        SensitiveSets {
            harmful: bools(harmful, vec![labels.len(), m]).reshape([labels.len(), m]),
            sensitive: bools(sensitive, vec![labels.len()]),
            seedwise: bools(seedwise, vec![labels.len()]),
        }
    }
}

/// MACER's hyperparameters.
#[derive(Debug, Clone, Copy)]
pub struct MacerParams {
    /// Noise level σ.
    pub sigma: f64,
    /// Inverse temperature β of the soft smoothed classifier.
    pub beta: f64,
    /// Hinge margin γ (γ₂, on normal examples, for macer-cs).
    pub gamma: f64,
    /// Weight λ of the robustness term.
    pub lambda: f64,
}

/// −log softmax(logits)_y per example: `[b, m]`, `[b]` → `[b]`.
fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    log_softmax(logits, 1).gather(1, labels.unsqueeze_dim(1)).squeeze_dim::<1>(1).neg()
}

fn scalar_zero<B: Backend>(device: &B::Device) -> Tensor<B, 1> {
    Tensor::zeros([1], device)
}

/// Gaussian augmentation (Cohen et al.): mean cross-entropy on one noisy
/// copy per example. `logits` `[b, m]`, `labels` `[b]`.
pub fn gaussian<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> LossParts<B> {
    let device = logits.device();
    let classification = cross_entropy(logits, labels).mean();
    LossParts {
        total: classification.clone(),
        classification,
        robustness_sensitive: scalar_zero(&device),
        robustness_normal: scalar_zero(&device),
    }
}

/// The reweighting baseline: (Σ CE + w · Σ_{sensitive} CE) / batch.
pub fn gaussian_cs<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
    sets: &SensitiveSets<B>,
    weight: f64,
) -> LossParts<B> {
    let device = logits.device();
    let (classification, extra) = reweighted(cross_entropy(logits, labels), sets, weight);
    LossParts {
        total: classification.clone() + extra.clone(),
        classification,
        robustness_sensitive: extra,
        robustness_normal: scalar_zero(&device),
    }
}

/// Σ CE / batch, and the extra w · Σ_{sensitive} CE / batch of the
/// reweighting baseline, from the cross-entropy of each example `[batch]`.
fn reweighted<B: Backend>(each: Tensor<B, 1>, sets: &SensitiveSets<B>, weight: f64) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let batch = each.dims()[0] as f64;
    let classification = each.clone().sum().div_scalar(batch);
    let extra = (each * sets.sensitive.clone().float()).sum().mul_scalar(weight / batch);
    (classification, extra)
}

/// SmoothMix (Jeong et al. 2021), from logits of m noisy copies of the clean
/// images, `clean` `[b, m, K]`, and of the mixed images
/// (1 − λ) x + λ x_adv, `mixed` `[b, m, K]`, with λ per example in `mix` `[b]`.
///
/// Loss = mean_{i,j} CE(f(x_i + δ_j), y_i)
///      + η · mean_{i,j} 1[G(x_i) = y_i] · KL(t_i ‖ softmax f(x_mix,i + δ_j)),
/// where G(x) = mean_j softmax f(x + δ_j) and the target
/// t_i = (1 − λ_i) G(x_i) + λ_i / K (held fixed) asks the model to grow less
/// confident as the input moves towards the adversarial point. With
/// `reweight`, the cross-entropy of sensitive examples counts 1 + w times
/// (smoothmix-cs).
pub fn smoothmix<B: Backend>(
    clean: Tensor<B, 3>,
    mixed: Tensor<B, 3>,
    labels: Tensor<B, 1, Int>,
    mix: Tensor<B, 1>,
    eta: f64,
    reweight: Option<(&SensitiveSets<B>, f64)>,
) -> LossParts<B> {
    let [b, copies, k] = clean.dims();
    let repeated = labels.clone().reshape([b, 1]).repeat_dim(1, copies).reshape([b * copies]);
    let each =
        cross_entropy(clean.clone().reshape([b * copies, k]), repeated).reshape([b, copies]).mean_dim(1).reshape([b]);
    let (classification, extra) = match reweight {
        Some((sets, weight)) => reweighted(each, sets, weight),
        None => (each.mean(), scalar_zero(&clean.device())),
    };
    let smoothed = soft_smoothed(clean, 1.0).detach();
    let correct = smoothed.clone().argmax(1).reshape([b]).equal(labels).float();
    let lambda = mix.reshape([b, 1]);
    let target = smoothed * (lambda.clone().neg() + 1.0) + lambda.div_scalar(k as f64);
    let target = target.reshape([b, 1, k]);
    let kl = (target.clone() * (target.clamp_min(1e-20).log() - log_softmax(mixed, 2))).sum_dim(2).reshape([b, copies]);
    let robustness = (kl * correct.reshape([b, 1])).mean().mul_scalar(eta);
    LossParts {
        total: classification.clone() + extra.clone() + robustness.clone(),
        classification,
        robustness_sensitive: extra,
        robustness_normal: robustness,
    }
}

/// mean_j softmax(β · logits_j): `[b, k, m]` → `[b, m]`.
fn soft_smoothed<B: Backend>(logits: Tensor<B, 3>, beta: f64) -> Tensor<B, 2> {
    softmax(logits.mul_scalar(beta), 2).mean_dim(1).squeeze_dim::<2>(1)
}

/// Φ⁻¹(p) where p is in (0, 1), and whether it was: margins from p̂ of 0 or
/// 1 are skipped, and the placeholder ½ keeps NaN out of the gradients.
fn safe_icdf<B: Backend>(p: Tensor<B, 1>) -> (Tensor<B, 1>, Tensor<B, 1, Bool>) {
    let inside = p.clone().greater_elem(0.0).bool_and(p.clone().lower_elem(1.0));
    let safe = p.clone().mask_where(inside.clone().bool_not(), p.zeros_like() + 0.5);
    (icdf(safe), inside)
}

/// Σ (σ/2)(γ − margin) over the examples selected by `mask`.
fn hinge_sum<B: Backend>(margin: Tensor<B, 1>, mask: Tensor<B, 1, Bool>, sigma: f64, gamma: f64) -> Tensor<B, 1> {
    ((margin.neg() + gamma).mul_scalar(sigma / 2.0) * mask.float()).sum()
}

/// MACER's hinge terms per example: the margin Φ⁻¹(p̂^β_y) − Φ⁻¹(runner-up)
/// and whether the example takes the hinge (correct, margin in (0, γ)).
fn macer_margin<B: Backend>(
    p_beta: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
    gamma: f64,
) -> (Tensor<B, 1>, Tensor<B, 1, Bool>) {
    let (top2, indices) = p_beta.topk_with_indices(2, 1);
    let first = top2.clone().slice([0..top2.dims()[0], 0..1]).squeeze_dim::<1>(1);
    let second = top2.clone().slice([0..top2.dims()[0], 1..2]).squeeze_dim::<1>(1);
    let correct = indices.slice([0..top2.dims()[0], 0..1]).squeeze_dim::<1>(1).equal(labels);
    let (z1, ok1) = safe_icdf(first);
    let (z2, ok2) = safe_icdf(second);
    let margin = z1 - z2;
    let selected = correct
        .bool_and(ok1)
        .bool_and(ok2)
        .bool_and(margin.clone().greater_elem(0.0))
        .bool_and(margin.clone().lower_elem(gamma));
    (margin, selected)
}

/// MACER (Zhai et al.): `logits` of k noisy copies per example, `[b, k, m]`.
/// Loss = (Σ −log p̂_y + λ Σ hinge) / b, p̂ = mean_j softmax(f(x + δ_j)).
pub fn macer<B: Backend>(logits: Tensor<B, 3>, labels: Tensor<B, 1, Int>, params: MacerParams) -> LossParts<B> {
    let device = logits.device();
    let batch = labels.dims()[0] as f64;
    let classification = smoothed_cross_entropy(logits.clone(), labels.clone()).div_scalar(batch);
    let (margin, selected) = macer_margin(soft_smoothed(logits, params.beta), labels, params.gamma);
    let robustness = hinge_sum(margin, selected, params.sigma, params.gamma).mul_scalar(params.lambda / batch);
    LossParts {
        total: classification.clone() + robustness.clone(),
        classification,
        robustness_sensitive: scalar_zero(&device),
        robustness_normal: robustness,
    }
}

/// Σ −log(p̂_y + 1e-10) over the batch, p̂ = mean_j softmax(logits_j).
fn smoothed_cross_entropy<B: Backend>(logits: Tensor<B, 3>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let p = soft_smoothed(logits, 1.0);
    (p.gather(1, labels.unsqueeze_dim(1)) + 1e-10).log().neg().sum()
}

/// The paper's cost-sensitive MACER (SPEC §5).
///
/// Sensitive examples take (σ/2)(γ₁ − m_cs) whenever |m_cs| < γ₁, with
/// m_cs = Φ⁻¹(p̂^β_top) − Φ⁻¹(max_{k∈Ω_y} p̂^β_k) (top = y for seedwise
/// rows, the most probable class otherwise), including the currently wrong
/// ones; the others take MACER's hinge with γ₂ = `params.gamma`.
pub fn macer_cs<B: Backend>(
    logits: Tensor<B, 3>,
    labels: Tensor<B, 1, Int>,
    sets: &SensitiveSets<B>,
    params: MacerParams,
    gamma_sensitive: f64,
) -> LossParts<B> {
    let batch = labels.dims()[0] as f64;
    let classification = smoothed_cross_entropy(logits.clone(), labels.clone()).div_scalar(batch);
    let p_beta = soft_smoothed(logits, params.beta);
    let sensitive = cost_sensitive_hinge(p_beta.clone(), labels.clone(), sets, params.sigma, gamma_sensitive)
        .mul_scalar(params.lambda / batch);

    let (margin, selected) = macer_margin(p_beta, labels, params.gamma);
    let selected = selected.bool_and(sets.sensitive.clone().bool_not());
    let normal = hinge_sum(margin, selected, params.sigma, params.gamma).mul_scalar(params.lambda / batch);
    LossParts {
        total: classification.clone() + sensitive.clone() + normal.clone(),
        classification,
        robustness_sensitive: sensitive,
        robustness_normal: normal,
    }
}

/// The paper's cost-sensitive hinge, summed over the sensitive examples:
/// (σ/2)(γ₁ − m_cs) wherever |m_cs| < γ₁, with
/// m_cs = Φ⁻¹(p̂^β_top) − Φ⁻¹(max_{k∈Ω_y} p̂^β_k) (top = y for seedwise
/// rows, the most probable class otherwise), from the soft smoothed
/// classifier `p_beta` `[b, m]`.
fn cost_sensitive_hinge<B: Backend>(
    p_beta: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
    sets: &SensitiveSets<B>,
    sigma: f64,
    gamma_sensitive: f64,
) -> Tensor<B, 1> {
    let harmful = p_beta.clone().mask_fill(sets.harmful.clone().bool_not(), -1.0).max_dim(1).squeeze_dim::<1>(1);
    let of_label = p_beta.clone().gather(1, labels.unsqueeze_dim(1)).squeeze_dim::<1>(1);
    let most_probable = p_beta.max_dim(1).squeeze_dim::<1>(1);
    let top = most_probable.mask_where(sets.seedwise.clone(), of_label);
    let (z_top, ok_top) = safe_icdf(top);
    let (z_harmful, ok_harmful) = safe_icdf(harmful);
    let margin_cs = z_top - z_harmful;
    let selected = sets
        .sensitive
        .clone()
        .bool_and(ok_top)
        .bool_and(ok_harmful)
        .bool_and(margin_cs.clone().abs().lower_elem(gamma_sensitive));
    hinge_sum(margin_cs, selected, sigma, gamma_sensitive)
}

/// Salman et al.'s MSE objective for a denoiser: the mean of
/// (D(x + δ) − x)² over every value of every copy, from the denoised
/// copies and the clean images repeated as they are, both `[n, c, h, w]`.
pub fn denoiser_mse<B: Backend>(denoised: Tensor<B, 4>, clean: Tensor<B, 4>) -> LossParts<B> {
    let device = denoised.device();
    let mse = (denoised - clean).powi_scalar(2).mean();
    LossParts {
        total: mse.clone(),
        classification: mse,
        robustness_sensitive: scalar_zero(&device),
        robustness_normal: scalar_zero(&device),
    }
}

/// Salman et al.'s stability objective for a denoiser: the mean
/// cross-entropy of the frozen classifier on the denoised copies against
/// its class for the clean image, from `logits` `[b, k, m]` of f(D(x + δ_j))
/// and `clean` `[b]`, f(x)'s classes. With `cost_sensitive` (the true
/// classes `labels`, their sets, and β, λ, γ₁), plus λ times the paper's
/// cost-sensitive hinge of the soft smoothed f ∘ D per example
/// (denoiser-stab-cs).
pub fn denoiser_stab<B: Backend>(
    logits: Tensor<B, 3>,
    clean: Tensor<B, 1, Int>,
    sigma: f64,
    cost_sensitive: Option<(Tensor<B, 1, Int>, &SensitiveSets<B>, StabSensitive)>,
) -> LossParts<B> {
    let [b, copies, m] = logits.dims();
    let targets = clean.reshape([b, 1]).repeat_dim(1, copies).reshape([b * copies]);
    let classification = cross_entropy(logits.clone().reshape([b * copies, m]), targets).mean();
    let sensitive = match cost_sensitive {
        Some((labels, sets, hinge)) => {
            let p_beta = soft_smoothed(logits, hinge.beta);
            cost_sensitive_hinge(p_beta, labels, sets, sigma, hinge.gamma_sensitive).mul_scalar(hinge.lambda / b as f64)
        }
        None => scalar_zero(&classification.device()),
    };
    LossParts {
        total: classification.clone() + sensitive.clone(),
        robustness_normal: scalar_zero(&classification.device()),
        classification,
        robustness_sensitive: sensitive,
    }
}
