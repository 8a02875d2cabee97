//! What `certify` and `predict` share: loading the model and the data,
//! choosing the examples, resuming, and appending records with progress.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::prelude::Backend;
use csrs_artifacts::CertificationFiles;
use csrs_data::{Dataset, Split};
use csrs_engine::Engine;
use csrs_models::{Classifier, ModelSpec};
use csrs_sampling::{BurnCounter, ClassCounter, NativeCounter, NoiseKind, Smoothed};
use csrs_stats::grid_distance;

use crate::device::DeviceChoice;

use crate::import::load_model;
use crate::options::{EngineChoice, Options, RunSettings};
use crate::progress::Progress;
use crate::records::{RecordFile, Row, settings_of_run};

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
    let counter = class_counter(checkpoint.model, spec, settings.engine, settings.device, device, settings.batch)?;
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
    for index in settings.examples(dataset.len()) {
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

/// The counter `--engine` asks for: the compiled CPU engine, or burn on
/// the chosen device.
pub(crate) fn class_counter<B: Backend>(
    model: Classifier<B>,
    spec: &ModelSpec,
    engine: EngineChoice,
    choice: DeviceChoice,
    device: B::Device,
    batch: usize,
) -> anyhow::Result<Box<dyn ClassCounter>> {
    if !engine.is_native_on(choice)? {
        return Ok(Box::new(BurnCounter::new(model, device, spec.input_shape, spec.n_classes, batch)));
    }
    let engine = Engine::from_classifier(&model, spec)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(Box::new(NativeCounter::new(engine, batch, threads)))
}

/// Runs `one` on every example of the run that `--out` does not hold yet,
/// appending each row as soon as it is made; returns every row of the file.
/// The `resolved` options (the settings with the command's own) are saved
/// beside the output once it is open.
pub(crate) fn run_examples<R: Row>(
    settings: &RunSettings,
    resolved: &Options,
    dataset: &Dataset,
    samples_per_example: u64,
    mut one: impl FnMut(usize) -> anyhow::Result<R>,
) -> anyhow::Result<Vec<R>> {
    run_example_groups(settings, resolved, dataset, 1, |_| samples_per_example, |group| Ok(vec![one(group[0])?]))
}

/// [`run_examples`] for work done on up to `group_size` examples at a time:
/// `group` returns the rows of the examples it is given, in their order, and
/// they are appended as soon as it returns; `samples` is what a row drew,
/// for the progress bar.
pub(crate) fn run_example_groups<R: Row>(
    settings: &RunSettings,
    resolved: &Options,
    dataset: &Dataset,
    group_size: usize,
    samples: impl Fn(&R) -> u64,
    mut group: impl FnMut(&[usize]) -> anyhow::Result<Vec<R>>,
) -> anyhow::Result<Vec<R>> {
    let (mut file, mut rows) = RecordFile::open::<R>(&settings.out, settings.resume)?;
    if settings.resume && !rows.is_empty() {
        match settings_of_run(&settings.out)? {
            Some(earlier) => resolved.check_continues(earlier)?,
            None if settings.adopt_settings => eprintln!(
                "note: {} has no {}: continuing its {} records with this run's settings (--adopt-settings)",
                settings.out.display(),
                CertificationFiles::new(&settings.out).resolved_config().display(),
                rows.len()
            ),
            None => bail!(
                "--resume: {} has no {}, so nothing says its records were made with this model, sigma and cost: \
                 pass --adopt-settings to continue them with this run's settings, or choose another --out",
                settings.out.display(),
                CertificationFiles::new(&settings.out).resolved_config().display()
            ),
        }
    }
    let shard = settings.shard;
    let shard_note =
        settings.shard_source.as_ref().map(|source| format!("shard {}/{} from {source}", shard.index, shard.count));
    if let Some(note) = &shard_note {
        eprintln!("{note}");
    }
    resolved.save_beside(&settings.out, shard_note.as_deref())?;
    let done: BTreeSet<usize> = rows.iter().map(Row::index).collect();
    let todo: Vec<usize> = settings.examples(dataset.len()).filter(|i| !done.contains(i)).collect();
    if !done.is_empty() {
        eprintln!("resuming {}: {} records kept, {} examples to go", settings.out.display(), done.len(), todo.len());
    }
    let mut progress = Progress::new(todo.len() as u64);
    for indices in todo.chunks(group_size.max(1)) {
        let made = group(indices).with_context(|| match indices {
            [one] => format!("example {one}"),
            [first, .., last] => format!("examples {first} to {last}"),
            [] => unreachable!("chunks are not empty"),
        })?;
        debug_assert_eq!(made.len(), indices.len());
        for row in made {
            file.append(&row)?;
            progress.item_done(samples(&row));
            rows.push(row);
        }
    }
    progress.finish();
    file.finish()?;
    rows.sort_by_key(Row::index);
    Ok(rows)
}

/// Seconds since `start`, to the millisecond.
pub(crate) fn seconds_since(start: Instant) -> f64 {
    to_the_millisecond(start.elapsed().as_secs_f64())
}

/// Seconds rounded to the millisecond, as records hold them.
pub(crate) fn to_the_millisecond(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
