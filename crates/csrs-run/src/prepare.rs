//! A csrs model smoothed for a run: the model and the dataset's test split
//! loaded and checked against each other and against the run's noise.

use std::path::Path;

use anyhow::bail;
use burn::prelude::Backend;
use csrs_data::{Dataset, DatasetName, Split};
use csrs_sampling::{ClassCounter, NoiseKind, Smoothed};
use csrs_stats::{Sigma, Smoothing};

use crate::counter::{Counting, class_counter};
use crate::denoise::{denoise, load_denoiser};
use crate::examples::Observer;
use crate::grid::note_grid_distance;
use crate::import::{Import, load_model};
use crate::settings::RunSettings;

/// Where a run's smoothed classifier comes from.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// A csrs checkpoint, or a foreign weights file read with `import`.
    pub model: &'a Path,
    pub import: &'a Import,
    /// A denoiser put in front of the model (denoised smoothing).
    pub denoiser: Option<&'a Path>,
    /// The dataset whose test split is certified.
    pub dataset: DatasetName,
    /// The folder of a dataset that is not embedded.
    pub data_dir: Option<&'a Path>,
    pub sigma: Sigma,
    pub noise: NoiseKind,
    pub counting: Counting,
    /// Noisy copies per forward pass.
    pub batch: usize,
}

/// The smoothed model and its test data, checked against each other.
pub struct Prepared {
    pub smoothed: Smoothed<Box<dyn ClassCounter>>,
    pub dataset: Dataset,
}

/// Loads the model and the test split of `source` on `device`, and says
/// (to `observer`) when the model was trained with another σ or noise, and
/// how far `run`'s images are from the grid sound noise rounds them to.
///
/// # Errors
/// A model or dataset that cannot be read, or that do not fit each other.
pub fn prepare<B: Backend>(
    source: &Source<'_>,
    run: &RunSettings,
    device: B::Device,
    observer: &mut dyn Observer,
) -> anyhow::Result<Prepared> {
    let dataset = csrs_data::load(source.dataset, Split::Test, source.data_dir)?;
    let shape = dataset.shape();
    let data_shape = [shape.channels, shape.height, shape.width];
    let checkpoint =
        load_model::<B>(source.model, Some(source.dataset), source.import, Some(dataset.n_classes()), &device)?;
    if checkpoint.meta.spec.input_shape != data_shape {
        bail!(
            "{}: the model takes {:?} inputs, but {} images are {data_shape:?}",
            source.model.display(),
            checkpoint.meta.spec.input_shape,
            source.dataset
        );
    }
    let checkpoint = match source.denoiser {
        Some(path) => {
            let denoiser = load_denoiser::<B>(path, data_shape, source.dataset.as_str(), &device)?;
            denoise(checkpoint, &denoiser, &device)?
        }
        None => checkpoint,
    };
    let spec = &checkpoint.meta.spec;
    let sigma = source.sigma.get();
    if let Some(training) = &checkpoint.meta.training
        && training.sigma != sigma
    {
        observer.note(&format!(
            "note: the model was trained at sigma = {}, and is certified at sigma = {sigma}",
            training.sigma
        ));
    }
    // A model is tuned to the noise it was trained with: Gaussian and sound
    // noise differ, so certifying with the other one is worth a word.
    let noise = source.noise.as_str();
    if let Some(trained) = checkpoint.meta.training.as_ref().and_then(|t| t.noise.as_deref())
        && trained != noise
    {
        observer
            .note(&format!("note: the model was trained with {trained} noise, and is certified with {noise} noise"));
    }
    let counter = class_counter(checkpoint.model, spec, source.counting, device, source.batch)?;
    if source.noise == NoiseKind::Sound {
        note_grid_distance(&dataset, &source.dataset.to_string(), run, observer)?;
    }
    Ok(Prepared {
        smoothed: Smoothed::new(counter, source.noise.for_smoothing(Smoothing::Gaussian(source.sigma))),
        dataset,
    })
}
