//! The forward pass a [`BurnCounter`](crate::BurnCounter) classifies with.

use burn::prelude::*;
use csrs_models::Classifier;

/// A burn network's forward pass: a batch of images `[batch, channels,
/// height, width]` → logits `[batch, n_classes]`.
///
/// [`BurnCounter`](crate::BurnCounter) classifies through this trait, so
/// any network can be certified, not only csrs's own [`Classifier`]: a
/// user's `#[derive(Module)]` network, given this one method, gets csrs's
/// noise streams, batching, rounds and statistics unchanged. Closures
/// `Fn(Tensor<B, 4>) -> Tensor<B, 2>` implement it too, for a network
/// whose forward pass needs arguments of its own or preprocessing.
///
/// The images are as the counter gets them, noise included (pixels
/// nominally in [0, 1]); any normalisation is the network's.
///
/// burn initialises a module's parameters lazily, on first use: a network
/// fresh from its config's `init` would draw its weights in its first
/// forward pass, from the backend's generator just seeded for the noise.
/// Load or materialise its weights before counting (as
/// [`Classifier::init`] does).
pub trait Forward<B: Backend> {
    /// Logits for a batch of images.
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2>;
}

impl<B: Backend> Forward<B> for Classifier<B> {
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        Classifier::forward(self, images)
    }
}

impl<B: Backend, F: Fn(Tensor<B, 4>) -> Tensor<B, 2>> Forward<B> for F {
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self(images)
    }
}
