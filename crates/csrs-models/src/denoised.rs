//! A classifier behind a denoiser, as one network: f(D(x)).
//!
//! The two graphs are joined into one imported network (the denoiser's
//! layers under `denoiser.`, the classifier's normalisation as an affine
//! map `classifier.normalize`, its layers under `classifier.`), so that
//! every consumer of a network takes the pair without knowing it is one:
//! the engine compiles it into one program with one workspace (no copy
//! between the two), burn's backends run it, and certification records it
//! as it records any model.

use std::collections::HashMap;

use burn::prelude::*;

use crate::graph::{Affine, Graph, GraphBuilder, LayerName, Op, ValueId};
use crate::interop::{from_tensors, torch_tensors};
use crate::{Architecture, Classifier, Denoiser, DenoiserSpec, ModelError, ModelSpec, Result};

/// The layer that normalises the denoiser's output for the classifier.
const NORMALIZE: &str = "classifier.normalize";

/// The spec of `classifier` reading what `denoiser` makes of its input.
///
/// # Errors
/// [`ModelError::Spec`] when the denoiser's images are not the classifier's
/// input, or either spec fails its check.
pub fn denoised_spec(denoiser: &DenoiserSpec, classifier: &ModelSpec) -> Result<ModelSpec> {
    denoiser.check()?;
    classifier.check()?;
    if denoiser.input_shape != classifier.input_shape {
        return Err(ModelError::Spec(format!(
            "the denoiser makes {:?} images, the classifier takes {:?}",
            denoiser.input_shape, classifier.input_shape
        )));
    }
    let mut builder = GraphBuilder::new(denoiser.input_shape);
    let joined = |err: String| ModelError::Spec(format!("joining the denoiser and the classifier: {err}"));
    let mut x = builder.append(&denoiser.graph(), ValueId::INPUT, "denoiser").map_err(joined)?;
    if normalizes(classifier) {
        let name = LayerName { torch: NORMALIZE.into(), burn: NORMALIZE.into() };
        let affine = Affine { name, len: classifier.input_shape[0] };
        x = builder.push(Op::Affine(affine), &[x]).map_err(joined)?;
    }
    builder.append(&Graph::of(classifier), x, "classifier").map_err(joined)?;
    let channels = denoiser.input_shape[0];
    let spec = ModelSpec {
        architecture: Architecture::Imported,
        n_classes: classifier.n_classes,
        input_shape: denoiser.input_shape,
        mean: vec![0.0; channels],
        std: vec![1.0; channels],
        graph: Some(builder.finish()),
    };
    spec.check()?;
    Ok(spec)
}

/// `classifier` reading what `denoiser` makes of its input, as one
/// network, and its spec ([`denoised_spec`]).
///
/// # Errors
/// As [`denoised_spec`].
pub fn denoised<B: Backend>(
    (denoiser, denoiser_spec): (&Denoiser<B>, &DenoiserSpec),
    (classifier, classifier_spec): (&Classifier<B>, &ModelSpec),
    device: &B::Device,
) -> Result<(ModelSpec, Classifier<B>)> {
    let spec = denoised_spec(denoiser_spec, classifier_spec)?;
    let mut tensors = HashMap::new();
    for (parameter, values) in denoiser.torch_tensors(denoiser_spec) {
        tensors.insert(format!("denoiser.{}", parameter.torch), values);
    }
    if normalizes(classifier_spec) {
        let (mean, std) = (&classifier_spec.mean, &classifier_spec.std);
        tensors.insert(format!("{NORMALIZE}.weight"), std.iter().map(|s| 1.0 / s).collect());
        tensors.insert(format!("{NORMALIZE}.bias"), mean.iter().zip(std).map(|(m, s)| -m / s).collect());
    }
    for (parameter, values) in torch_tensors(classifier, classifier_spec).map_err(ModelError::Spec)? {
        tensors.insert(format!("classifier.{}", parameter.torch), values);
    }
    let model = from_tensors(&spec, &tensors, device)?;
    Ok((spec, model))
}

/// Whether the classifier's normalisation does anything.
fn normalizes(spec: &ModelSpec) -> bool {
    spec.mean.iter().any(|&m| m != 0.0) || spec.std.iter().any(|&s| s != 1.0)
}
