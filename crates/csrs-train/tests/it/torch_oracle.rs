//! The values `csrs.torch.losses` is checked against
//! (`crates/csrs-py/tests/test_losses.py`): for a small network with fixed
//! weights, fixed images and labels, a cost matrix and given noise, every
//! objective's loss, its parts and its gradient with respect to the weights,
//! as csrs-train computes them ([`batch_loss`], the trainer's own function).
//!
//! `tests/data/torch-oracle.json` holds them. This test computes them again
//! and requires the inputs to be the same and the results to agree to 1e-5
//! (relative), so a change to an objective fails here until the file, and
//! with it the PyTorch losses, follow. `CSRS_UPDATE_ORACLE=1 cargo test -p
//! csrs-train --test it torch_oracle` writes the file anew.

use std::collections::HashMap;
use std::path::PathBuf;

use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::prelude::*;
use csrs_cost::CostMatrix;
use csrs_models::graph::{Activation, Conv2d, GraphBuilder, LayerName, Linear, Op, ValueId, Window};
use csrs_models::interop::from_tensors;
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::NoiseKind;
use csrs_train::batch_loss::{Draws, Method, batch_loss};
use csrs_train::noise::NoisyCopies;
use csrs_train::{MacerSensitive, Objective, Reweighting};
use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use serde_json::{Value, json};

type B = Autodiff<Flex>;

const BATCH: usize = 6;
const COPIES: usize = 4;
const CLASSES: usize = 10;
const SIGMA: f64 = 0.25;
const TOLERANCE: f64 = 1e-5;

fn oracle_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/torch-oracle.json")
}

/// The network: conv1 (1 → 4, 3×3, padding 1), ReLU, 2×2 max pooling,
/// flatten, fc (64 → 10), after (x − 0.5) / 0.25.
fn spec() -> ModelSpec {
    let name = |n: &str| LayerName { torch: n.into(), burn: n.into() };
    let mut graph = GraphBuilder::new([1, 8, 8]);
    let mut x = ValueId::INPUT;
    for op in [
        Op::Conv2d(Conv2d::square(name("conv1"), [1, 4], 3, 1, 1, true)),
        Op::Activation(Activation::Relu),
        Op::MaxPool2d(Window::square(2, 2, 0)),
        Op::Flatten,
        Op::Linear(Linear { name: name("fc"), inputs: 64, outputs: CLASSES }),
    ] {
        x = graph.push(op, &[x]).expect("the layers fit");
    }
    ModelSpec {
        architecture: Architecture::Imported,
        n_classes: CLASSES,
        input_shape: [1, 8, 8],
        mean: vec![0.5],
        std: vec![0.25],
        graph: Some(graph.finish()),
    }
}

/// Uniform draws in [low, high) and standard normal ones (Box–Muller), in
/// f32, from a seeded generator.
struct Numbers(SplitMix64);

impl Numbers {
    fn uniform(&mut self, n: usize, low: f64, high: f64) -> Vec<f32> {
        (0..n).map(|_| (low + (high - low) * self.unit()) as f32).collect()
    }

    fn normal(&mut self, n: usize, scale: f64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let (u, v) = (1.0 - self.unit(), self.unit());
                (scale * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
            })
            .collect()
    }

    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Everything the cases share: the weights, images, labels and costs.
struct Setting {
    weights: Vec<(String, Vec<usize>, Vec<f32>)>,
    images: Vec<f32>,
    labels: Vec<usize>,
    costs: CostMatrix,
    model: Classifier<B>,
}

fn setting(numbers: &mut Numbers) -> Setting {
    let spec = spec();
    let weights: Vec<(String, Vec<usize>, Vec<f32>)> = spec
        .parameters()
        .into_iter()
        .map(|p| {
            let scale = if p.torch.starts_with("conv1") { 0.6 } else { 0.4 };
            let values = numbers.uniform(p.len(), -scale, scale);
            (p.torch, p.shape, values)
        })
        .collect();
    let by_name: HashMap<String, Vec<f32>> = weights.iter().map(|(n, _, v)| (n.clone(), v.clone())).collect();
    let device = Default::default();
    let model = from_tensors::<B>(&spec, &by_name, &device).expect("the weights fit the network");
    let images = numbers.uniform(BATCH * 64, 0.0, 1.0);
    // The clean predictions, as labels: five right, the last one wrong, so
    // that the margins of right and wrong examples both take part.
    let predicted: Vec<usize> = model
        .valid()
        .forward(image_tensor(&images, &device).inner())
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|p| p as usize)
        .collect();
    let mut labels = predicted.clone();
    labels[BATCH - 1] = (predicted[BATCH - 1] + 1) % CLASSES;
    // A seedwise row (every mistake harmful) for the first example's class,
    // one harmful class for the second's; the other classes are harmless.
    assert_ne!(labels[0], labels[1], "the seed gives two classes for the two sensitive rows");
    let mut rows = vec![vec![0.0; CLASSES]; CLASSES];
    for (k, cost) in rows[labels[0]].iter_mut().enumerate() {
        *cost = if k == labels[0] { 0.0 } else { 1.0 };
    }
    rows[labels[1]][(labels[1] + 1) % CLASSES] = 2.0;
    let costs = CostMatrix::from_rows(rows).expect("a valid matrix");
    Setting { weights, images, labels, costs, model }
}

fn image_tensor(values: &[f32], device: &<B as burn::tensor::backend::BackendTypes>::Device) -> Tensor<B, 4> {
    Tensor::<B, 1>::from_floats(values, device).reshape([values.len() / 64, 1, 8, 8])
}

/// Each objective and its `-cs` form, with the arguments the PyTorch loss
/// takes (its keyword names).
fn objectives() -> Vec<(Objective, Value)> {
    let macer = |cs: Option<f64>| Objective::Macer {
        noise_copies: COPIES,
        beta: 2.0,
        lambda: 3.0,
        gamma: 8.0,
        cost_sensitive: cs.map(|gamma_sensitive| MacerSensitive { gamma_sensitive }),
    };
    let weight = |cs: bool| cs.then_some(Reweighting { weight: 1.5 });
    let mut all = Vec::new();
    for cs in [false, true] {
        let with_weight = |mut arguments: Value| {
            if cs {
                arguments["weight"] = json!(1.5);
            }
            arguments
        };
        all.push((Objective::Gaussian { cost_sensitive: weight(cs) }, with_weight(json!({"sigma": SIGMA}))));
        let mut arguments = json!({"sigma": SIGMA, "noise_copies": COPIES, "beta": 2.0, "lam": 3.0, "gamma": 8.0});
        if cs {
            arguments["gamma_sensitive"] = json!(8.0);
        }
        all.push((macer(cs.then_some(8.0)), arguments));
        all.push((
            Objective::SmoothAdv {
                noise_copies: COPIES,
                epsilon: 0.5,
                attack_steps: 2,
                warmup_epochs: None,
                cost_sensitive: weight(cs),
            },
            with_weight(json!({"sigma": SIGMA, "noise_copies": COPIES, "epsilon": 0.5, "attack_steps": 2})),
        ));
        all.push((
            Objective::SmoothMix {
                noise_copies: COPIES,
                attack_steps: 2,
                attack_step_size: 0.5,
                mix_weight: 2.0,
                warmup_epochs: None,
                cost_sensitive: weight(cs),
            },
            with_weight(json!({
                "sigma": SIGMA, "noise_copies": COPIES, "attack_steps": 2, "attack_step_size": 0.5, "mix_weight": 2.0
            })),
        ));
    }
    all
}

/// Every parameter's gradient, in the order the network stores them.
struct Gradients<'a>(&'a <B as burn::tensor::backend::AutodiffBackend>::Gradients, Vec<Vec<f32>>);

impl ModuleVisitor<B> for Gradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = param.val().grad(self.0) {
            self.1.push(grad.into_data().to_vec::<f32>().expect("f32"));
        }
    }
}

/// A tensor as JSON, each value written with the fewest digits that read
/// back as the same f32.
fn tensor_json(shape: &[usize], values: &[f32]) -> Value {
    let values: Vec<f64> = values.iter().map(|v| v.to_string().parse().expect("a float prints as one")).collect();
    json!({"shape": shape, "values": values})
}

/// One case: its inputs and what csrs-train makes of them.
fn case(setting: &Setting, objective: &Objective, arguments: Value, numbers: &mut Numbers) -> Value {
    let device = Default::default();
    let copies = objective.copies();
    let noise = numbers.normal(BATCH * copies * 64, SIGMA);
    let mix = matches!(objective, Objective::SmoothMix { .. }).then(|| numbers.uniform(BATCH, 0.0, 0.5));
    let draws = Draws {
        noise: NoisyCopies::new(
            Tensor::<B, 1>::from_floats(noise.as_slice(), &device).reshape([BATCH * copies, 1, 8, 8]),
            NoiseKind::Gaussian,
        ),
        mix: mix.as_ref().map(|mix| Tensor::<B, 1>::from_floats(mix.as_slice(), &device)),
    };
    let costs = objective.is_cost_sensitive().then_some(&setting.costs);
    let method = Method::new(objective, SIGMA, costs, 0).expect("costs exactly for the -cs objectives");
    let images = image_tensor(&setting.images, &device);
    let (parts, _) = batch_loss(&setting.model, &method, images, &setting.labels, &draws);
    let value = |t: &Tensor<B, 1>| f64::from(t.clone().into_data().to_vec::<f32>().expect("f32")[0]);
    let loss = json!({
        "total": value(&parts.total),
        "classification": value(&parts.classification),
        "robustness_sensitive": value(&parts.robustness_sensitive),
        "robustness_normal": value(&parts.robustness_normal),
    });
    let grads = parts.total.backward();
    let mut gradients = Gradients(&grads, Vec::new());
    setting.model.visit(&mut gradients);
    assert_eq!(gradients.1.len(), setting.weights.len(), "a gradient for every weight");
    let gradient: serde_json::Map<String, Value> = setting
        .weights
        .iter()
        .zip(&gradients.1)
        .filter(|((name, ..), _)| name.ends_with(".weight"))
        .map(|((name, shape, _), grad)| (name.clone(), tensor_json(shape, grad)))
        .collect();
    let mut case = json!({
        "objective": objective.method_name(),
        "arguments": arguments,
        "noise": tensor_json(&[BATCH, copies, 1, 8, 8], &noise),
    });
    if let Some(mix) = mix {
        case["mix"] = tensor_json(&[BATCH], &mix);
    }
    case["loss"] = loss;
    case["gradient"] = Value::Object(gradient);
    case
}

/// The whole oracle, one line per part and per case.
fn oracle() -> (Value, Vec<Value>) {
    let mut numbers = Numbers(SplitMix64::seed_from_u64(1));
    let setting = setting(&mut numbers);
    let weights: serde_json::Map<String, Value> =
        setting.weights.iter().map(|(name, shape, values)| (name.clone(), tensor_json(shape, values))).collect();
    let costs: Vec<Vec<f64>> = setting.costs.rows().map(|row| row.costs().to_vec()).collect();
    let inputs = json!({
        "network": {
            "input_shape": [1, 8, 8],
            "mean": [0.5],
            "std": [0.25],
            "layers": "(x - mean) / std; conv1 = Conv2d(1, 4, 3, padding=1); ReLU; MaxPool2d(2); Flatten; fc = Linear(64, 10)",
        },
        "weights": weights,
        "images": tensor_json(&[BATCH, 1, 8, 8], &setting.images),
        "labels": setting.labels,
        "cost": costs,
    });
    let cases = objectives().into_iter().map(|(o, arguments)| case(&setting, &o, arguments, &mut numbers)).collect();
    (inputs, cases)
}

fn to_text(inputs: &Value, cases: &[Value]) -> String {
    let mut text = String::from("{\n");
    for (key, value) in inputs.as_object().expect("an object") {
        text.push_str(&format!("  {}: {},\n", json!(key), value));
    }
    text.push_str("  \"cases\": [\n");
    let lines: Vec<String> = cases.iter().map(|case| format!("    {case}")).collect();
    text.push_str(&lines.join(",\n"));
    text.push_str("\n  ]\n}\n");
    text
}

fn relative_error(actual: &[f64], expected: &[f64]) -> f64 {
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let difference = norm(&mut actual.iter().zip(expected).map(|(a, e)| a - e));
    let scale = norm(&mut expected.iter().copied());
    if scale < 1e-7 { difference } else { difference / scale }
}

fn numbers_of(value: &Value) -> Vec<f64> {
    match value {
        Value::Number(n) => vec![n.as_f64().expect("a number")],
        Value::Array(items) => items.iter().flat_map(numbers_of).collect(),
        Value::Object(fields) => fields.values().flat_map(numbers_of).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_committed_oracle_is_what_csrs_train_computes() {
    let _rng = crate::BACKEND_RNG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (inputs, cases) = oracle();
    // Every term of every objective takes part: a check that cannot see a
    // hinge or a reweighting would pass a loss without it.
    for case in &cases {
        let name = case["objective"].as_str().expect("a name");
        let loss = &case["loss"];
        let positive = |part: &str| loss[part].as_f64().expect("a number") > 1e-4;
        assert!(positive("classification"), "{name}: {loss}");
        let sensitive = name.ends_with("-cs");
        assert_eq!(positive("robustness_sensitive"), sensitive, "{name}: {loss}");
        let normal = name.starts_with("macer") || name.starts_with("smoothmix");
        assert_eq!(positive("robustness_normal"), normal, "{name}: {loss}");
    }
    let path = oracle_path();
    if std::env::var_os("CSRS_UPDATE_ORACLE").is_some() {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("the test data folder");
        std::fs::write(&path, to_text(&inputs, &cases)).expect("the oracle is written");
        return;
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("the committed oracle"))
        .expect("the committed oracle is JSON");
    for (key, value) in inputs.as_object().expect("an object") {
        assert_eq!(&committed[key], value, "the oracle's {key} (CSRS_UPDATE_ORACLE=1 writes them anew)");
    }
    let committed_cases = committed["cases"].as_array().expect("cases");
    assert_eq!(committed_cases.len(), cases.len());
    for (committed, case) in committed_cases.iter().zip(&cases) {
        let name = case["objective"].as_str().expect("a name");
        for key in ["objective", "arguments", "noise", "mix"] {
            assert_eq!(committed[key], case[key], "{name}: {key}");
        }
        for part in ["total", "classification", "robustness_sensitive", "robustness_normal"] {
            let error = relative_error(&numbers_of(&case["loss"][part]), &numbers_of(&committed["loss"][part]));
            assert!(error <= TOLERANCE, "{name}: {part} differs by {error:e} (relative)");
        }
        for (weight, gradient) in case["gradient"].as_object().expect("gradients") {
            let error = relative_error(&numbers_of(gradient), &numbers_of(&committed["gradient"][weight]));
            assert!(error <= TOLERANCE, "{name}: the gradient of {weight} differs by {error:e} (relative)");
        }
    }
}
