//! Classifiers converted to a half-precision type: the same network, its
//! logits to that type's precision (burn's flex backend computes bf16 and
//! f16 as a GPU would, only slower).

use burn::module::{ModuleMapper, Param};
use burn::tensor::{FloatDType, TensorData};
use csrs_models::graph::{Activation, Conv2d, GraphBuilder, LayerName, Linear, Op, ValueId, Window};

use super::*;

/// The largest difference from the f32 logits, over the largest f32 logit.
fn relative_error(exact: &[f32], approximate: &[f32]) -> f32 {
    let scale = exact.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = exact.iter().zip(approximate).fold(0.0f32, |m, (e, a)| m.max((e - a).abs()));
    worst / scale
}

/// The logits of `model` in f32, then in bf16 and f16 after
/// [`Classifier::cast`]: within 10% and 2% of the largest f32 logit.
fn check_cast(model: &Classifier<B>, images: Tensor<B, 4>, what: &str) {
    let exact = model.forward(images.clone()).into_data().to_vec::<f32>().unwrap();
    // Eight bits of mantissa (bf16) and eleven (f16), through every layer.
    for (dtype, tolerance) in [(FloatDType::BF16, 0.1), (FloatDType::F16, 0.02)] {
        let logits = model.clone().cast(dtype).forward(images.clone().cast(dtype));
        assert_eq!(logits.dtype(), dtype.into(), "{what}");
        let values = logits.cast(FloatDType::F32).into_data().to_vec::<f32>().unwrap();
        let error = relative_error(&exact, &values);
        assert!(error <= tolerance, "{what} in {dtype:?}: {error}");
        assert!(error > 0.0, "{what} in {dtype:?}: the f32 logits exactly");
    }
}

#[test]
fn a_cast_classifier_computes_its_logits_in_that_type() {
    let cases = [
        (Architecture::Mlp, [1, 8, 8]),
        (Architecture::DigitsCnn, [1, 8, 8]),
        (Architecture::Lenet5, [1, 28, 28]),
        (Architecture::CifarResnet20, [3, 32, 32]),
    ];
    let device = Default::default();
    for (architecture, shape) in cases {
        B::seed(&device, 11);
        let model = Classifier::<B>::init(&spec(architecture, shape, 10), &device).unwrap();
        check_cast(&model, batch(shape, 4), architecture.as_str());
    }
}

/// Every parameter set to fixed values in [-0.4, 0.6).
struct Fill;

impl ModuleMapper<B> for Fill {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|tensor| {
            let shape = tensor.shape();
            let values: Vec<f32> = (0..shape.num_elements()).map(|i| ((i * 37) % 23) as f32 / 23.0 - 0.4).collect();
            Tensor::from_data(TensorData::new(values, shape), &tensor.device())
        })
    }
}

/// An imported network whose average pooling is padded unevenly and
/// divides by the values inside the image: the divisor is computed in the
/// network's type too.
#[test]
fn an_imported_network_is_cast_whole() {
    let name = |n: &str| LayerName { torch: n.to_owned(), burn: n.to_owned() };
    let mut g = GraphBuilder::new([1, 8, 8]);
    let window = Window { kernel: [3, 3], stride: [1, 1], padding: [1, 1, 0, 0] };
    let y = g.push(Op::AvgPool2d { window, count_padding: false }, &[ValueId::INPUT]).unwrap();
    let conv = Conv2d {
        name: name("conv"),
        channels_in: 1,
        channels_out: 4,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1; 4],
        dilation: [1, 1],
        groups: 1,
        bias: true,
    };
    let y = g.push(Op::Conv2d(conv), &[y]).unwrap();
    let y = g.push(Op::Activation(Activation::Relu), &[y]).unwrap();
    let y = g.push(Op::GlobalAvgPool, &[y]).unwrap();
    g.push(Op::Linear(Linear { name: name("fc"), inputs: 4, outputs: 3 }), &[y]).unwrap();
    let spec = ModelSpec { graph: Some(g.finish()), ..spec(Architecture::Imported, [1, 8, 8], 3) };
    let model = Classifier::<B>::init(&spec, &Default::default()).unwrap().map(&mut Fill);
    check_cast(&model, batch([1, 8, 8], 4), "an imported network");
}
