//! What a training run trains: a classifier, or a denoiser in front of a
//! frozen classifier (denoised smoothing).

use burn::prelude::*;
use csrs_models::{Classifier, Denoiser};

/// The module the optimiser steps.
// One per run, never in a collection: the size of the largest variant
// costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Trainee<B: Backend> {
    /// A classifier, every weight learned.
    Classifier(Classifier<B>),
    /// A denoiser, learned, in front of a classifier that is not.
    Denoiser(Denoised<B>),
}

/// A denoiser D in front of a frozen classifier f: the base classifier
/// f(D(x)) that denoised smoothing certifies.
#[derive(Module, Debug)]
pub struct Denoised<B: Backend> {
    /// The network trained.
    pub denoiser: Denoiser<B>,
    /// The classifier, made a fixed function by
    /// [`Classifier::frozen`]: no gradient reaches its weights and its
    /// batch norm keeps its running statistics.
    pub classifier: Classifier<B>,
}

impl<B: Backend> Trainee<B> {
    /// The base classifier's logits for a batch of images: f(x), or
    /// f(D(x)).
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        match self {
            Trainee::Classifier(model) => model.forward(images),
            Trainee::Denoiser(model) => model.classifier.forward(model.denoiser.forward(images)),
        }
    }
}
