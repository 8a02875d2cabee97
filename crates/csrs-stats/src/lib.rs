//! Certification statistics for randomized smoothing, from class counts.
//!
//! Everything here is a pure function of counts, a cost row, the smoothing
//! and α: no tensors, no random numbers, no framework.
//! Counts from any source (a burn model, PyTorch, a simulation) certify the
//! same way.
//!
//! - [`BinomialSample`]: one-sided Clopper–Pearson bounds and two-sided
//!   intervals, anytime-valid bounds (for draws that stop on what they
//!   show), and
//!   [`binomial_test_half`], the exact two-sided test used by PREDICT.
//! - [`normal_cdf`] / [`normal_ppf`]: Φ and Φ⁻¹.
//! - [`Smoothing`]: the noise a certificate is for (Gaussian, at σ), the
//!   norm of its radii and the radius a class probability buys, written
//!   once for every certificate and plan.
//! - [`GridGaussian`]: Gaussian noise on the 8-bit grid drawn from integers,
//!   for certificates that hold in floating point, with a bound on how far
//!   its draws are from the exact distribution.
//! - [`certify`]: Cohen's CERTIFY, or Certify-CS when the true class has
//!   harmful mistakes (SPEC §4), returning a [`Certificate`].
//! - [`predict`]: Cohen's PREDICT.
//! - [`plan`]: what n, α and σ can certify at best, and the draws a target
//!   radius needs.
//! - [`metrics`]: certified accuracy, certified cost-sensitive robustness,
//!   average certified radius and certified robust cost over many examples,
//!   at chosen radii or as exact step functions of the radius, each
//!   fraction with its Clopper–Pearson interval.
//!
//! The key design choice is that outcomes are types, not numbers: an abstain
//! is [`StandardCertificate::Abstain`], never a radius of 0, and a harmful
//! prediction is [`HarmRadius::NotCertified`], never a radius of −1.
//!
//! ```
//! use csrs_cost::CostRow;
//! use csrs_stats::{Alpha, ClassCounts, Smoothing, certify};
//!
//! // The true class is 0; taking it for class 2 is the harmful mistake.
//! let costs = [0.0, 0.0, 1.0];
//! let row = CostRow::new(&costs, 0)?;
//! let selection = ClassCounts::new(vec![95, 4, 1])?;
//! let estimation = ClassCounts::new(vec![950, 45, 5])?;
//! let cert = certify(&selection, &estimation, Some(&row), Smoothing::gaussian(0.25)?, Alpha::new(0.001)?)?;
//! assert_eq!(cert.predicted, 0);
//! let standard = cert.standard.radius().expect("certified");
//! assert!(cert.cost_sensitive.expect("class 0 is a seed").radius().covers(standard.get()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod binomial;
mod certify;
mod counts;
mod error;
mod grid_noise;
pub mod metrics;
mod normal;
mod params;
pub mod plan;
mod predict;
mod quantile;
mod sequential;
mod smoothing;

pub use binomial::{BinomialSample, binomial_test_half, mcnemar_exact};
pub use certify::{
    Bounds, Certificate, CostSensitiveCertificate, CurveError, HarmRadius, LevelRadius, RadiusCeilings,
    StandardCertificate, certify, certify_with, radius_ceilings,
};
pub use counts::ClassCounts;
pub use error::{Result, StatsError};
pub use grid_noise::{GRID_STEPS, GridGaussian, PHI_ERROR, grid_distance, grid_index, grid_value};
pub use normal::{normal_cdf, normal_ppf};
pub use params::{Alpha, Radius, Sigma};
pub use predict::{Prediction, predict};
pub use smoothing::{Norm, Smoothing};
