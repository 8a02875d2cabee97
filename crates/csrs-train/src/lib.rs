//! Training base classifiers for (cost-sensitive) certified robustness
//! (SPEC §5).
//!
//! [`loss`] holds the objectives, each a function of logits on noisy copies:
//! Gaussian augmentation (Cohen et al.), its cost-sensitive reweighting,
//! MACER (Zhai et al.) and the paper's cost-sensitive MACER.
//! [`normal`] provides Φ and Φ⁻¹ on tensors with exact gradients, which the
//! MACER margins need.
//! Everything is generic over the burn backend; training runs on an
//! autodiff backend.
#![deny(missing_docs)]

pub mod loss;
pub mod normal;
