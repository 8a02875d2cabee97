//! Progress of long runs: a bar with items/s (examples, batches), samples/s
//! and ETA on a terminal, plain periodic lines otherwise (logs, CI, pipes).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often plain progress lines are written.
const LINE_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    /// What is counted, plural ("examples").
    unit: &'static str,
    /// Printed before plain lines ("epoch 3: ").
    prefix: String,
    total: u64,
    done: u64,
    samples: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// Progress over `total` examples.
    pub(crate) fn new(total: u64) -> Self {
        Progress::of(total, "examples", String::new())
    }

    /// Progress over `total` things named `unit`, with `prefix` before
    /// every line or bar.
    pub(crate) fn of(total: u64, unit: &'static str, prefix: String) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let template = format!(
                "{prefix}{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{per_sec}}, {{msg}}, ETA {{eta}}"
            );
            let style = ProgressStyle::with_template(&template).expect("the template is valid").progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        let now = Instant::now();
        Progress { bar, unit, prefix, total, done: 0, samples: 0, started: now, last_line: now }
    }

    /// One more item done, which drew `samples` noisy copies.
    pub(crate) fn item_done(&mut self, samples: u64) {
        self.done += 1;
        self.samples += samples;
        let rate = self.samples as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{rate:.0} samples/s"));
                bar.inc(1);
            }
            None if self.last_line.elapsed() >= LINE_EVERY || self.done == self.total => {
                self.last_line = Instant::now();
                let elapsed = self.started.elapsed().as_secs_f64();
                let (prefix, unit) = (&self.prefix, self.unit);
                eprintln!(
                    "{prefix}{}/{} {unit}, {:.2} {unit}/s, {rate:.0} samples/s, {elapsed:.0} s",
                    self.done,
                    self.total,
                    self.done as f64 / elapsed.max(1e-9)
                );
            }
            None => {}
        }
    }

    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A run of examples shown on the terminal: its notes as lines, its
/// examples as progress.
#[derive(Default)]
pub(crate) struct Shown(Option<Progress>);

impl csrs_run::Observer for Shown {
    fn note(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn spelling(&self) -> &dyn csrs_artifacts::Spelling {
        &crate::flags::Flags
    }

    fn started(&mut self, todo: usize) {
        self.0 = Some(Progress::new(todo as u64));
    }

    fn example_done(&mut self, samples: u64) {
        if let Some(progress) = &mut self.0 {
            progress.item_done(samples);
        }
    }

    fn finished(&mut self) {
        if let Some(progress) = self.0.take() {
            progress.finish();
        }
    }
}
