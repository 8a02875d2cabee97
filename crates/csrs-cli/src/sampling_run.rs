//! What `certify` and `predict` share: loading the model and the data,
//! checked against each other and against the run's noise.

use anyhow::bail;
use burn::prelude::Backend;
use csrs_data::{Dataset, Split};
use csrs_run::class_counter;
use csrs_sampling::{ClassCounter, NoiseKind, Smoothed};
use csrs_stats::grid_distance;

use crate::import::load_model;
use crate::options::RunSettings;

/// The smoothed model and its test data, checked against each other.
pub(crate) struct Prepared {
    pub(crate) smoothed: Smoothed<Box<dyn ClassCounter>>,
    pub(crate) dataset: Dataset,
}

pub(crate) fn prepare<B: Backend>(settings: &RunSettings, device: B::Device) -> anyhow::Result<Prepared> {
    let dataset = csrs_data::load(settings.dataset, Split::Test, settings.data_dir.as_deref())?;
    let checkpoint =
        load_model::<B>(&settings.model, Some(settings.dataset), &settings.import, Some(dataset.n_classes()), &device)?;
    let spec = &checkpoint.meta.spec;
    let shape = dataset.shape();
    let data_shape = [shape.channels, shape.height, shape.width];
    if spec.input_shape != data_shape {
        bail!(
            "{}: the model takes {:?} inputs, but {} images are {data_shape:?}",
            settings.model.display(),
            spec.input_shape,
            settings.dataset
        );
    }
    if let Some(training) = &checkpoint.meta.training
        && training.sigma != settings.sigma.get()
    {
        eprintln!(
            "note: the model was trained at sigma = {}, and is certified at sigma = {}",
            training.sigma,
            settings.sigma.get()
        );
    }
    // A model is tuned to the noise it was trained with: Gaussian and sound
    // noise differ, so certifying with the other one is worth a word.
    if let Some(trained) = checkpoint.meta.training.as_ref().and_then(|t| t.noise.as_deref())
        && trained != settings.noise.as_str()
    {
        eprintln!(
            "note: the model was trained with {trained} noise, and is certified with {} noise",
            settings.noise.as_str()
        );
    }
    let counting = settings.engine.counting_on(settings.device)?;
    let counter = class_counter(checkpoint.model, spec, counting, device, settings.run.batch)?;
    if settings.noise == NoiseKind::Sound {
        note_grid_distance(&dataset, settings)?;
    }
    Ok(Prepared { smoothed: Smoothed::new(counter, settings.noise.with_sigma(settings.sigma)), dataset })
}

/// Says how far the run's images are from the 1/255 grid that sound noise
/// rounds them to, when they are not on it: a certificate of radius R about
/// the rounded image covers R less that distance about the image itself.
fn note_grid_distance(dataset: &Dataset, settings: &RunSettings) -> anyhow::Result<()> {
    let mut farthest = 0.0f64;
    for index in settings.run.examples(dataset.len()) {
        farthest = farthest.max(grid_distance(&dataset.image(index)?));
    }
    if farthest > 0.0 {
        eprintln!(
            "note: sound noise certifies each image rounded to the 1/255 grid; {} images are up to {farthest:.4} from it (l2), so a radius R about the rounded image covers R - {farthest:.4} about the image",
            settings.dataset
        );
    }
    Ok(())
}
