//! Each loss on a hand-made batch, against a direct f64 computation of the
//! formulas of SPEC §5.

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use csrs_cost::CostMatrix;
use csrs_stats::normal_ppf;
use csrs_train::StabSensitive;
use csrs_train::loss::{
    MacerParams, SensitiveSets, denoiser_mse, denoiser_stab, gaussian, gaussian_cs, macer, macer_cs, smoothmix,
};

type B = Autodiff<Flex>;

/// Logits of k = 2 noisy copies of 3 examples over m = 3 classes.
const LOGITS: [[[f64; 3]; 2]; 3] =
    [[[2.0, 0.5, 0.1], [1.5, 1.0, -0.2]], [[0.2, 0.1, 0.3], [0.1, 0.4, 0.2]], [[-1.0, 0.0, 2.5], [0.3, -0.5, 1.9]]];
const LABELS: [usize; 3] = [0, 1, 2];
const PARAMS: MacerParams = MacerParams { sigma: 0.5, beta: 16.0, gamma: 8.0, lambda: 3.0 };

fn softmax(z: &[f64], beta: f64) -> Vec<f64> {
    let max = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f64> = z.iter().map(|&v| (beta * (v - max)).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

fn smoothed(example: &[[f64; 3]; 2], beta: f64) -> Vec<f64> {
    let (a, b) = (softmax(&example[0], beta), softmax(&example[1], beta));
    a.iter().zip(&b).map(|(x, y)| (x + y) / 2.0).collect()
}

fn logits3() -> Tensor<B, 3> {
    let flat: Vec<f32> = LOGITS.iter().flatten().flatten().map(|&v| v as f32).collect();
    Tensor::<B, 1>::from_floats(flat.as_slice(), &Default::default()).reshape([3, 2, 3])
}

fn labels() -> Tensor<B, 1, Int> {
    Tensor::from_ints(LABELS.map(|y| y as i32), &Default::default())
}

fn value(t: Tensor<B, 1>) -> f64 {
    f64::from(t.into_data().to_vec::<f32>().unwrap()[0])
}

fn assert_near(actual: f64, expected: f64, what: &str) {
    assert!((actual - expected).abs() <= 1e-4 * expected.abs().max(1.0), "{what}: {actual} vs {expected}");
}

#[test]
fn gaussian_and_reweighted_cross_entropy() {
    let first_copies: Tensor<B, 2> = logits3().slice([0..3, 0..1, 0..3]).reshape([3, 3]);
    let ce: Vec<f64> = (0..3).map(|i| -softmax(&LOGITS[i][0], 1.0)[LABELS[i]].ln()).collect();
    let parts = gaussian(first_copies.clone(), labels());
    assert_near(value(parts.total), ce.iter().sum::<f64>() / 3.0, "gaussian");

    let costs = CostMatrix::seedwise(3, &[1]).unwrap();
    let sets = SensitiveSets::<B>::new(&costs, &LABELS, &Default::default());
    let parts = gaussian_cs(first_copies, labels(), &sets, 2.0);
    assert_near(value(parts.total), (ce.iter().sum::<f64>() + 2.0 * ce[1]) / 3.0, "gaussian-cs");
}

/// MACER's terms for one example: CE and, when it applies, the hinge.
fn macer_terms(i: usize, gamma: f64) -> (f64, Option<f64>) {
    let ce = -(smoothed(&LOGITS[i], 1.0)[LABELS[i]] + 1e-10).ln();
    let p = smoothed(&LOGITS[i], PARAMS.beta);
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let margin = normal_ppf(p[order[0]]) - normal_ppf(p[order[1]]);
    let applies = order[0] == LABELS[i] && margin > 0.0 && margin < gamma && margin.is_finite();
    (ce, applies.then(|| PARAMS.sigma / 2.0 * (gamma - margin)))
}

#[test]
fn macer_matches_its_definition() {
    let terms: Vec<(f64, Option<f64>)> = (0..3).map(|i| macer_terms(i, PARAMS.gamma)).collect();
    assert!(terms.iter().filter(|(_, h)| h.is_some()).count() >= 2, "the batch should exercise the hinge: {terms:?}");
    let ce: f64 = terms.iter().map(|(c, _)| c).sum();
    let hinge: f64 = terms.iter().filter_map(|(_, h)| *h).sum();
    let parts = macer(logits3(), labels(), PARAMS);
    assert_near(value(parts.classification), ce / 3.0, "classification");
    assert_near(value(parts.robustness_normal), PARAMS.lambda * hinge / 3.0, "robustness");
    assert_near(value(parts.total), (ce + PARAMS.lambda * hinge) / 3.0, "total");
}

#[test]
fn macer_cs_splits_sensitive_and_normal_examples() {
    // Example 0 (class 0): pairwise, only class 2 is harmful; example 1
    // (class 1): seedwise; example 2 (class 2): not sensitive.
    let costs = CostMatrix::from_rows(vec![vec![0.0, 0.0, 1.0], vec![1.0, 0.0, 1.0], vec![0.0, 0.0, 0.0]]).unwrap();
    let sets = SensitiveSets::<B>::new(&costs, &LABELS, &Default::default());
    let gamma1 = 16.0;
    let cs_hinge = |i: usize, top_is_label: bool| {
        let p = smoothed(&LOGITS[i], PARAMS.beta);
        let harmful = costs.sensitive_set(LABELS[i]).iter().map(|&k| p[k]).fold(f64::NEG_INFINITY, f64::max);
        let top = if top_is_label { p[LABELS[i]] } else { p.iter().fold(0.0f64, |a, &b| a.max(b)) };
        let margin = normal_ppf(top) - normal_ppf(harmful);
        assert!(margin.abs() < gamma1, "example {i} should take the hinge");
        PARAMS.sigma / 2.0 * (gamma1 - margin)
    };
    let sensitive = cs_hinge(0, false) + cs_hinge(1, true);
    let (_, normal) = macer_terms(2, PARAMS.gamma);
    let ce: f64 = (0..3).map(|i| macer_terms(i, PARAMS.gamma).0).sum();

    let parts = macer_cs(logits3(), labels(), &sets, PARAMS, gamma1);
    assert_near(value(parts.robustness_sensitive), PARAMS.lambda * sensitive / 3.0, "sensitive hinge");
    assert_near(value(parts.robustness_normal), PARAMS.lambda * normal.unwrap_or(0.0) / 3.0, "normal hinge");
    assert_near(value(parts.total), (ce + PARAMS.lambda * (sensitive + normal.unwrap_or(0.0))) / 3.0, "total");
}

/// denoiser-stab: the mean cross-entropy of every copy against the clean
/// classes given (not the labels); denoiser-stab-cs adds macer-cs's hinge
/// on the sensitive examples, of the true labels.
#[test]
fn denoiser_stability_and_its_cost_sensitive_hinge_match_their_definition() {
    let clean = [1usize, 1, 2];
    let clean_tensor = Tensor::<B, 1, Int>::from_ints(clean.map(|y| y as i32), &Default::default());
    let ce: f64 =
        (0..3).flat_map(|i| (0..2).map(move |j| -softmax(&LOGITS[i][j], 1.0)[clean[i]].ln())).sum::<f64>() / 6.0;
    let parts = denoiser_stab(logits3(), clean_tensor.clone(), PARAMS.sigma, None);
    assert_near(value(parts.total), ce, "stability");

    let costs = CostMatrix::from_rows(vec![vec![0.0, 0.0, 1.0], vec![1.0, 0.0, 1.0], vec![0.0, 0.0, 0.0]]).unwrap();
    let sets = SensitiveSets::<B>::new(&costs, &LABELS, &Default::default());
    let hinge = StabSensitive { beta: PARAMS.beta, lambda: 2.0, gamma_sensitive: 16.0 };
    let cs_hinge = |i: usize, top_is_label: bool| {
        let p = smoothed(&LOGITS[i], hinge.beta);
        let harmful = costs.sensitive_set(LABELS[i]).iter().map(|&k| p[k]).fold(f64::NEG_INFINITY, f64::max);
        let top = if top_is_label { p[LABELS[i]] } else { p.iter().fold(0.0f64, |a, &b| a.max(b)) };
        PARAMS.sigma / 2.0 * (hinge.gamma_sensitive - (normal_ppf(top) - normal_ppf(harmful)))
    };
    let sensitive = hinge.lambda * (cs_hinge(0, false) + cs_hinge(1, true)) / 3.0;
    let parts = denoiser_stab(logits3(), clean_tensor, PARAMS.sigma, Some((labels(), &sets, hinge)));
    assert_near(value(parts.robustness_sensitive), sensitive, "the cost-sensitive hinge");
    assert_near(value(parts.total), ce + sensitive, "denoiser-stab-cs");
}

#[test]
fn denoiser_mse_is_the_mean_squared_error_per_value() {
    let device = Default::default();
    let denoised = Tensor::<B, 1>::from_floats([0.5, 0.25, 1.0, 0.0], &device).reshape([2, 1, 1, 2]);
    let clean = Tensor::<B, 1>::from_floats([0.0, 0.25, 0.5, 0.5], &device).reshape([2, 1, 1, 2]);
    assert_near(value(denoiser_mse(denoised, clean).total), (0.25 + 0.0 + 0.25 + 0.25) / 4.0, "mse");
}

#[test]
fn saturated_probabilities_are_skipped_not_nan() {
    // One example whose copies put all the mass on class 0 at β = 16.
    let device = Default::default();
    let logits =
        Tensor::<B, 1>::from_floats([60.0, 0.0, 0.0, 55.0, 0.0, 0.0], &device).reshape([1, 2, 3]).require_grad();
    let labels = Tensor::<B, 1, Int>::from_ints([0], &device);
    let costs = CostMatrix::standard(3).unwrap();
    let sets = SensitiveSets::<B>::new(&costs, &[0], &device);
    for parts in
        [macer(logits.clone(), labels.clone(), PARAMS), macer_cs(logits.clone(), labels.clone(), &sets, PARAMS, 16.0)]
    {
        let total = parts.total.clone();
        let grads = total.clone().backward();
        assert!(value(total).is_finite());
        let gradient = logits.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
        assert!(gradient.iter().all(|g| g.is_finite()), "{gradient:?}");
    }
}

#[test]
fn smoothmix_matches_its_definition() {
    // The mixed points' logits: the clean ones, shifted towards class 1.
    let shifted: Vec<[[f64; 3]; 2]> =
        LOGITS.iter().map(|example| example.map(|copy| [copy[0], copy[1] + 1.5, copy[2] - 0.5])).collect();
    let mixed = {
        let flat: Vec<f32> = shifted.iter().flatten().flatten().map(|&v| v as f32).collect();
        Tensor::<B, 1>::from_floats(flat.as_slice(), &Default::default()).reshape([3, 2, 3])
    };
    let lambda = [0.1, 0.3, 0.45];
    let eta = 2.0;
    let mut ce = [0.0; 3];
    let mut mix_sum = 0.0;
    for i in 0..3 {
        ce[i] = LOGITS[i].iter().map(|copy| -softmax(copy, 1.0)[LABELS[i]].ln()).sum::<f64>() / 2.0;
        let p = smoothed(&LOGITS[i], 1.0);
        let top = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        if top != LABELS[i] {
            continue;
        }
        let target: Vec<f64> = p.iter().map(|&pk| (1.0 - lambda[i]) * pk + lambda[i] / 3.0).collect();
        for copy in &shifted[i] {
            let q = softmax(copy, 1.0);
            mix_sum += (0..3).map(|k| target[k] * (target[k].ln() - q[k].ln())).sum::<f64>();
        }
    }
    let mix = || Tensor::<B, 1>::from_floats(lambda.map(|l| l as f32), &Default::default());
    let expected_mix = eta * mix_sum / 6.0;
    let parts = smoothmix(logits3(), mixed.clone(), labels(), mix(), eta, None);
    assert_near(value(parts.classification), ce.iter().sum::<f64>() / 3.0, "smoothmix cross-entropy");
    assert_near(value(parts.robustness_normal), expected_mix, "smoothmix mixup term");
    assert!(expected_mix > 0.0, "the batch must exercise the mixup term");

    let costs = CostMatrix::seedwise(3, &[1]).unwrap();
    let sets = SensitiveSets::<B>::new(&costs, &LABELS, &Default::default());
    let parts = smoothmix(logits3(), mixed, labels(), mix(), eta, Some((&sets, 2.0)));
    let expected = (ce.iter().sum::<f64>() + 2.0 * ce[1]) / 3.0 + expected_mix;
    assert_near(value(parts.total), expected, "smoothmix-cs");
}
