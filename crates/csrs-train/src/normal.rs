//! The standard normal distribution function and its inverse, element-wise
//! on tensors.
//!
//! burn has `erf` but no inverse. Φ⁻¹ is computed with Acklam's rational
//! approximation (relative error below 1.2e-9, beyond f32 precision) on
//! detached values; the gradient is attached as x + (p − p̄) / φ(x), where
//! p̄ is p detached: its value is x, its derivative in p exactly 1/φ(x).
//! In f32 the central rational function loses digits to cancellation near
//! its edges, so the central values get one Newton step through Φ; the
//! tails do not (1 + erf loses most digits of a tail probability in f32).

use std::f64::consts::{PI, SQRT_2};

use burn::prelude::*;

/// Φ(x) = (1 + erf(x / √2)) / 2.
pub fn cdf<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    (x.div_scalar(SQRT_2).erf() + 1.0) * 0.5
}

/// φ(x) = exp(−x² / 2) / √(2π).
pub fn pdf<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.powi_scalar(2).mul_scalar(-0.5).exp().div_scalar((2.0 * PI).sqrt())
}

/// Φ⁻¹(p) for p in (0, 1), with gradient 1/φ(Φ⁻¹(p)).
/// Values of p at or outside the bounds give non-finite results; callers
/// mask them (SPEC §5: such margins are skipped).
pub fn icdf<B: Backend, const D: usize>(p: Tensor<B, D>) -> Tensor<B, D> {
    let fixed = p.clone().detach();
    let rough = acklam(fixed.clone());
    let newton = rough.clone() - (cdf(rough.clone()) - fixed.clone()) / pdf(rough.clone());
    let central = fixed.clone().greater_equal_elem(P_LOW).bool_and(fixed.clone().lower_equal_elem(1.0 - P_LOW));
    let root = rough.mask_where(central, newton).detach();
    let attached = root.clone() + (p - fixed) / pdf(root.clone());
    // At p = 0 or 1 the root is infinite and the gradient term 0/0.
    attached.mask_where(root.clone().is_finite().bool_not(), root)
}

const A: [f64; 6] = [
    -3.969_683_028_665_376e1,
    2.209_460_984_245_205e2,
    -2.759_285_104_469_687e2,
    1.383_577_518_672_69e2,
    -3.066_479_806_614_716e1,
    2.506_628_277_459_239,
];
const B_: [f64; 5] = [
    -5.447_609_879_822_406e1,
    1.615_858_368_580_409e2,
    -1.556_989_798_598_866e2,
    6.680_131_188_771_972e1,
    -1.328_068_155_288_572e1,
];
const C: [f64; 6] = [
    -7.784_894_002_430_293e-3,
    -3.223_964_580_411_365e-1,
    -2.400_758_277_161_838,
    -2.549_732_539_343_734,
    4.374_664_141_464_968,
    2.938_163_982_698_783,
];
const D_: [f64; 4] = [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
const P_LOW: f64 = 0.024_25;

fn polynomial<B: Backend, const D: usize>(coefficients: &[f64], x: Tensor<B, D>) -> Tensor<B, D> {
    coefficients[1..].iter().fold(x.zeros_like() + coefficients[0], |acc, &c| acc * x.clone() + c)
}

/// Acklam's approximation of Φ⁻¹: a rational function in the centre and in
/// √(−2 ln p) in each tail.
fn acklam<B: Backend, const D: usize>(p: Tensor<B, D>) -> Tensor<B, D> {
    // Central region, |p − ½| ≤ ½ − P_LOW.
    let q = p.clone() - 0.5;
    let r = q.clone() * q.clone();
    let central = polynomial(&A, r.clone()) * q / (polynomial(&B_, r.clone()) * r + 1.0);
    // Lower tail; the upper tail by symmetry. Inputs are clamped so that the
    // branch not taken stays finite.
    let tail = |p: Tensor<B, D>| {
        let s = p.clamp(1e-30, P_LOW).log().mul_scalar(-2.0).sqrt();
        polynomial(&C, s.clone()) / (polynomial(&D_, s.clone()) * s + 1.0)
    };
    let lower = tail(p.clone());
    let upper = tail(p.clone().neg() + 1.0).neg();
    let x = central.mask_where(p.clone().lower_elem(P_LOW), lower);
    x.mask_where(p.clone().greater_elem(1.0 - P_LOW), upper)
        .mask_fill(p.clone().lower_equal_elem(0.0), f64::NEG_INFINITY)
        .mask_fill(p.greater_equal_elem(1.0), f64::INFINITY)
}
