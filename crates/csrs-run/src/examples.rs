//! Running every example of a run that its records do not hold yet:
//! claiming the records, checking that a resumed run continues the same
//! one, saving its settings (a resumed run's with its first record),
//! appending each record as it is made, and marking the records whole at
//! the end.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::Context;
use csrs_artifacts::{CertificationFiles, Keys, Setting, Spelling, Worded};
use csrs_data::Dataset;
use csrs_records::{RecordFile, Row, Settings};

use crate::settings::RunSettings;

/// What a run tells whoever watches it (a progress bar, a log).
pub trait Observer {
    /// A line worth showing: where the shard came from, a resumed run, a
    /// run that adopts the settings of records without any.
    fn note(&mut self, line: &str) {
        let _ = line;
    }

    /// How the notes name settings: as the front end showing them does.
    fn spelling(&self) -> &dyn Spelling {
        &Keys
    }

    /// The run starts on `todo` examples.
    fn started(&mut self, todo: usize) {
        let _ = todo;
    }

    /// One example is done, after `samples` draws.
    fn example_done(&mut self, samples: u64) {
        let _ = samples;
    }

    /// Every example is done.
    fn finished(&mut self) {}
}

/// Watches nothing.
impl Observer for () {}

/// Runs `group` on the examples of the run that its records do not hold
/// yet, up to `group_size` at a time, appending the rows it returns (in the
/// order of the examples it is given) as soon as it returns; `samples` is
/// what a row drew, for the observer. `settings` are saved beside the
/// records: at once beside new ones, and beside a resumed run's with the
/// first record (or the end mark of a run left nothing to do), so that a
/// refusal, or a failure before the first record, leaves the records, their
/// settings and their end mark as they were. Returns every row of the
/// records, by index.
pub(crate) fn run_example_groups<R: Row>(
    run: &RunSettings,
    settings: &Settings,
    dataset: &Dataset,
    group_size: usize,
    samples: impl Fn(&R) -> u64,
    observer: &mut dyn Observer,
    mut group: impl FnMut(&[usize]) -> anyhow::Result<Vec<R>>,
) -> anyhow::Result<Vec<R>> {
    let (mut file, mut rows) = RecordFile::open::<R>(&run.out, run.resume)?;
    if run.resume && !rows.is_empty() {
        let config = CertificationFiles::new(&run.out).resolved_config();
        match Settings::of_run(&run.out)? {
            Some(earlier) => settings.check_continues(&earlier)?,
            None if run.adopt_settings => {
                let note = format!(
                    "note: {} has no {}: continuing its {} records with this run's settings ({})",
                    run.out.display(),
                    config.display(),
                    rows.len(),
                    observer.spelling().on(Setting::AdoptSettings)
                );
                observer.note(&note);
            }
            None => {
                let (out, config) = (run.out.display().to_string(), config.display().to_string());
                return Err(Worded::new(move |s| {
                    format!(
                        "{}: {out} has no {config}, so nothing says its records were made with this model, sigma and \
                         cost: pass {} to continue them with this run's settings, or choose another {}",
                        s.on(Setting::Resume),
                        s.on(Setting::AdoptSettings),
                        s.name(Setting::Out)
                    )
                })
                .into());
            }
        }
    }
    if let Some(note) = &run.note {
        observer.note(note);
    }
    file.save_settings(settings, run.note.as_deref())?;
    let done: BTreeSet<usize> = rows.iter().map(Row::index).collect();
    let todo: Vec<usize> = run.examples(dataset.len()).filter(|i| !done.contains(i)).collect();
    if !done.is_empty() {
        observer.note(&format!(
            "resuming {}: {} records kept, {} examples to go",
            run.out.display(),
            done.len(),
            todo.len()
        ));
    }
    observer.started(todo.len());
    for indices in todo.chunks(group_size.max(1)) {
        let made = group(indices).with_context(|| match indices {
            [one] => format!("example {one}"),
            [first, .., last] => format!("examples {first} to {last}"),
            [] => unreachable!("chunks are not empty"),
        })?;
        debug_assert_eq!(made.len(), indices.len());
        for row in made {
            file.append(&row)?;
            observer.example_done(samples(&row));
            rows.push(row);
        }
    }
    observer.finished();
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
