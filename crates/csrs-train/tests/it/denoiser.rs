//! Training a denoiser in front of a frozen classifier: the classifier
//! stays bit for bit (weights and batch-norm statistics), the denoiser's
//! loss falls, and the cost-sensitive loss's gradient is the finite
//! differences' on a tiny network.

use std::collections::HashMap;

use burn::backend::{Autodiff, Flex};
use burn::module::{ModuleVisitor, Param, ParamId};
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::prelude::*;
use csrs_cost::CostMatrix;
use csrs_models::graph::{Activation, BatchNorm, Conv2d, GraphBuilder, LayerName, Linear, Op, ValueId};
use csrs_models::interop::{from_tensors, torch_tensors};
use csrs_models::{Architecture, Classifier, Denoiser, DenoiserNet, DenoiserSpec, ModelSpec};
use csrs_sampling::NoiseKind;
use csrs_train::batch_loss::{Draws, Method, trainee_loss};
use csrs_train::noise::NoisyCopies;
use csrs_train::{Denoised, MacerSensitive, Objective, StabSensitive, Trainee};

use crate::BACKEND_RNG;

type B = Autodiff<Flex>;

const SHAPE: [usize; 3] = [1, 4, 4];
const SIGMA: f64 = 0.5;

/// A classifier of 3 classes on 1×4×4 images with batch norm of real
/// statistics and dropout: conv, bn, relu, dropout, flatten, linear.
fn classifier_spec() -> ModelSpec {
    let name = |n: &str| LayerName { torch: n.into(), burn: n.into() };
    let mut g = GraphBuilder::new(SHAPE);
    let conv = Conv2d::square(name("conv"), [1, 3], 3, 1, 1, true);
    let x = g.push(Op::Conv2d(conv), &[ValueId::INPUT]).unwrap();
    let x = g.push(Op::BatchNorm(BatchNorm { name: name("bn"), channels: 3, epsilon: 1e-5 }), &[x]).unwrap();
    let x = g.push(Op::Activation(Activation::Relu), &[x]).unwrap();
    let x = g.push(Op::Dropout { ratio: 0.5 }, &[x]).unwrap();
    let x = g.push(Op::Flatten, &[x]).unwrap();
    g.push(Op::Linear(Linear { name: name("fc"), inputs: 48, outputs: 3 }), &[x]).unwrap();
    ModelSpec {
        architecture: Architecture::Imported,
        n_classes: 3,
        input_shape: SHAPE,
        mean: vec![0.5],
        std: vec![0.25],
        graph: Some(g.finish()),
    }
}

/// Deterministic weights, running statistics away from 0 and 1.
fn classifier(spec: &ModelSpec) -> Classifier<B> {
    let tensors: HashMap<String, Vec<f32>> = spec
        .parameters()
        .into_iter()
        .map(|p| {
            let values = (0..p.len())
                .map(|i| {
                    let wiggle = ((i * 37 + p.torch.len() * 11) % 23) as f32 / 23.0 - 0.5;
                    if p.torch.ends_with("running_var") { 0.5 + wiggle.abs() } else { wiggle }
                })
                .collect();
            (p.torch, values)
        })
        .collect();
    from_tensors::<B>(spec, &tensors, &Default::default()).unwrap()
}

fn denoiser_spec() -> DenoiserSpec {
    DenoiserSpec { input_shape: SHAPE, network: DenoiserNet::Dncnn { depth: 3, width: 4 } }
}

fn images(n: usize) -> Tensor<B, 4> {
    let values: Vec<f32> = (0..n * 16).map(|i| ((i * 7 + 3) % 16) as f32 / 15.0).collect();
    Tensor::<B, 1>::from_floats(values.as_slice(), &Default::default()).reshape([n, 1, 4, 4])
}

fn stab_cs() -> Objective {
    let cost_sensitive = Some(StabSensitive { beta: 4.0, lambda: 1.0, gamma_sensitive: 8.0 });
    Objective::DenoiserStab { noise_copies: 2, mse_epochs: None, cost_sensitive }
}

fn costs() -> CostMatrix {
    // Class 0 sensitive: predicting 2 for it is harmful.
    CostMatrix::from_rows(vec![vec![0.0, 0.0, 1.0], vec![0.0, 0.0, 0.0], vec![0.0, 0.0, 0.0]]).unwrap()
}

/// Every float parameter's id, in visiting order.
struct Ids(Vec<ParamId>);

impl<B: Backend> ModuleVisitor<B> for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(param.id);
    }
}

fn values(tensors: Vec<(csrs_models::graph::Parameter, Vec<f32>)>) -> Vec<Vec<f32>> {
    tensors.into_iter().map(|(_, values)| values).collect()
}

#[test]
fn the_frozen_classifier_stays_bit_for_bit_while_the_denoisers_loss_falls() {
    let _rng = BACKEND_RNG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let device = Default::default();
    B::seed(&device, 4);
    let spec = classifier_spec();
    let frozen = classifier(&spec).frozen(&spec).unwrap();
    let before = values(torch_tensors(&frozen, &spec).unwrap());
    let denoiser = Denoiser::<B>::init(&denoiser_spec(), &device).unwrap();
    let mut model = Trainee::Denoiser(Denoised { denoiser, classifier: frozen });
    let costs = costs();
    let objective = stab_cs();
    let method = Method::new(&objective, SIGMA, Some(&costs), 0).unwrap();
    let labels = [0, 1, 2, 0];
    let x = images(labels.len());
    let draws = Draws::draw(&method, &x, NoiseKind::Gaussian);
    let mut optim = SgdConfig::new().init::<B, Trainee<B>>();
    let mut losses = Vec::new();
    for _ in 0..30 {
        let (parts, _) = trainee_loss(&model, &method, x.clone(), &labels, &draws);
        losses.push(parts.total.clone().into_scalar().elem::<f64>());
        let grads = GradientsParams::from_grads(parts.total.backward(), &model);
        model = optim.step(0.05, model, grads);
    }
    assert!(losses[29] < 0.8 * losses[0], "the loss falls: {losses:?}");
    let Trainee::Denoiser(trained) = model else { unreachable!() };
    let after = values(torch_tensors(&trained.classifier, &spec).unwrap());
    assert_eq!(before, after, "the classifier's weights and statistics");
}

/// The loss of denoiser-stab-cs (and of denoiser-macer-cs) on fixed noise
/// as a function of the denoiser's first weights: autodiff's gradient is
/// the central finite differences'.
#[test]
fn the_cost_sensitive_denoiser_losses_gradients_are_the_finite_differences() {
    let _rng = BACKEND_RNG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let device = Default::default();
    B::seed(&device, 9);
    let spec = classifier_spec();
    let frozen = classifier(&spec).frozen(&spec).unwrap();
    let denoiser_spec = denoiser_spec();
    let start: HashMap<String, Vec<f32>> = Denoiser::<B>::init(&denoiser_spec, &device)
        .unwrap()
        .torch_tensors(&denoiser_spec)
        .into_iter()
        .map(|(p, v)| (p.torch, v))
        .collect();
    let costs = costs();
    let labels = [0, 0, 1, 2];
    let x = images(labels.len());
    let macer_cs = Objective::DenoiserMacer {
        noise_copies: 2,
        beta: 4.0,
        lambda: 1.0,
        gamma: 8.0,
        mse_epochs: None,
        cost_sensitive: Some(MacerSensitive { gamma_sensitive: 8.0 }),
    };
    for objective in [stab_cs(), macer_cs] {
        let method = Method::new(&objective, SIGMA, Some(&costs), 0).unwrap();
        let delta = Tensor::<B, 4>::random(
            [labels.len() * 2, 1, 4, 4],
            burn::tensor::Distribution::Normal(0.0, SIGMA),
            &device,
        );
        let draws = Draws { noise: NoisyCopies::new(delta, NoiseKind::Gaussian), mix: None };
        let model_of = |tensors: &HashMap<String, Vec<f32>>| {
            let denoiser = Denoiser::<B>::from_tensors(&denoiser_spec, tensors, &device).unwrap();
            Trainee::Denoiser(Denoised { denoiser, classifier: frozen.clone() })
        };
        let loss = |tensors: &HashMap<String, Vec<f32>>| {
            let (parts, _) = trainee_loss(&model_of(tensors), &method, x.clone(), &labels, &draws);
            assert!(parts.robustness_sensitive.clone().into_scalar().elem::<f64>() > 0.0, "the hinge is active");
            parts.total.into_scalar().elem::<f64>()
        };
        let model = model_of(&start);
        let (parts, _) = trainee_loss(&model, &method, x.clone(), &labels, &draws);
        let grads = GradientsParams::from_grads(parts.total.backward(), &model);
        let mut ids = Ids(Vec::new());
        model.visit(&mut ids);
        // The first float parameter is the denoiser's first convolution.
        let gradient: Vec<f32> = grads.get::<Flex, 1>(ids.0[0]).unwrap().into_data().to_vec().unwrap();
        // Along the gradient, the loss grows at the gradient's norm: a
        // direction of many coordinates, whose change is far above the
        // rounding of an f32 loss (single coordinates' are not).
        let norm = gradient.iter().map(|g| f64::from(*g).powi(2)).sum::<f64>().sqrt();
        let h = 2e-3;
        let moved = |sign: f64| {
            let mut tensors = start.clone();
            for (w, g) in tensors.get_mut("dncnn.0.weight").unwrap().iter_mut().zip(&gradient) {
                *w += (sign * h * f64::from(*g) / norm) as f32;
            }
            loss(&tensors)
        };
        let numeric = (moved(1.0) - moved(-1.0)) / (2.0 * h);
        assert!(
            (numeric - norm).abs() <= 1e-2 * norm,
            "{}: autodiff's slope {norm}, finite differences' {numeric}",
            objective.method_name()
        );
    }
}
