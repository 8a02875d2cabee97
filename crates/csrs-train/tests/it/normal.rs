//! Φ⁻¹ on tensors against the statistics crate, with its gradient.

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use csrs_train::normal::icdf;

type B = Autodiff<Flex>;

#[test]
fn icdf_matches_the_scalar_quantile_and_its_derivative() {
    let device = Default::default();
    let ps: Vec<f32> = vec![1e-6, 0.003, 0.02425, 0.1, 0.3, 0.5, 0.77, 0.97, 0.9999];
    let p = Tensor::<B, 1>::from_floats(ps.as_slice(), &device).require_grad();
    let x = icdf(p.clone());
    let grads = x.clone().sum().backward();
    let values = x.into_data().to_vec::<f32>().unwrap();
    let slopes = p.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
    for ((&p, &x), &slope) in ps.iter().zip(&values).zip(&slopes) {
        let expected = csrs_stats::normal_ppf(f64::from(p));
        assert!(
            (f64::from(x) - expected).abs() < 2e-5 * expected.abs().max(1.0),
            "icdf({p}) = {x}, expected {expected}"
        );
        let density = (-expected * expected / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let expected_slope = 1.0 / density;
        assert!((f64::from(slope) / expected_slope - 1.0).abs() < 1e-3, "slope at {p}: {slope} vs {expected_slope}");
    }
    let bounds = icdf(Tensor::<B, 1>::from_floats([0.0, 1.0], &device)).into_data().to_vec::<f32>().unwrap();
    assert_eq!(bounds, [f32::NEG_INFINITY, f32::INFINITY]);
}
