//! Classifiers converted to a half-precision type: the same network, its
//! logits to that type's precision (burn's flex backend computes bf16 and
//! f16 as a GPU would, only slower).

use burn::tensor::FloatDType;

use super::*;

/// The largest difference from the f32 logits, over the largest f32 logit.
fn relative_error(exact: &[f32], approximate: &[f32]) -> f32 {
    let scale = exact.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = exact.iter().zip(approximate).fold(0.0f32, |m, (e, a)| m.max((e - a).abs()));
    worst / scale
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
        let images = batch(shape, 4);
        let exact = model.forward(images.clone()).into_data().to_vec::<f32>().unwrap();
        // Eight bits of mantissa (bf16) and eleven (f16), through every layer.
        for (dtype, tolerance) in [(FloatDType::BF16, 0.1), (FloatDType::F16, 0.02)] {
            let logits = model.clone().cast(dtype).forward(images.clone().cast(dtype));
            assert_eq!(logits.dtype(), dtype.into(), "{architecture}");
            let values = logits.cast(FloatDType::F32).into_data().to_vec::<f32>().unwrap();
            let error = relative_error(&exact, &values);
            assert!(error <= tolerance, "{architecture} in {dtype:?}: {error}");
            assert!(error > 0.0, "{architecture} in {dtype:?}: the f32 logits exactly");
        }
    }
}
