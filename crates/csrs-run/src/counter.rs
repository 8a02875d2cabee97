//! The class counter of a csrs network: the compiled CPU engine, or burn's
//! forward pass on the network's device.

use burn::prelude::{Backend, Tensor};
use csrs_engine::Engine;
use csrs_models::{Classifier, ModelSpec};
use csrs_sampling::{BurnCounter, ClassCounter, NativeCounter};

use crate::Precision;

/// Which implementation classifies the noisy copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// The compiled CPU engine (csrs-engine), with Philox noise, on every
    /// core.
    Native,
    /// burn's forward pass on the model's device, in this precision.
    Burn(Precision),
}

/// The counter of `model` (described by `spec`) on `device`, drawing
/// `batch` noisy copies per forward pass.
///
/// # Errors
/// A network the engine cannot compile.
pub fn class_counter<B: Backend>(
    model: Classifier<B>,
    spec: &ModelSpec,
    counting: Counting,
    device: B::Device,
    batch: usize,
) -> anyhow::Result<Box<dyn ClassCounter>> {
    match counting {
        Counting::Burn(precision) => {
            let (shape, m) = (spec.input_shape, spec.n_classes);
            Ok(match precision.dtype() {
                None => Box::new(BurnCounter::new(model, device, shape, m, batch)),
                // The noisy images, drawn and added in f32, rounded to the
                // network's type.
                Some(dtype) => {
                    let model = model.cast(dtype);
                    let rounded = move |images: Tensor<B, 4>| model.forward(images.cast(dtype));
                    Box::new(BurnCounter::new(rounded, device, shape, m, batch))
                }
            })
        }
        Counting::Native => {
            let engine = Engine::from_classifier(&model, spec)?;
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            Ok(Box::new(NativeCounter::new(engine, batch, threads)))
        }
    }
}
