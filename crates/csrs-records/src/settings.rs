//! The settings of the run that wrote some records, `<records>.config.toml`
//! beside them: written when the run opens its records, compared when it
//! is resumed (a file must hold certificates of one smoothed classifier),
//! and read to check the records' classes against their dataset.
//!
//! They are a TOML table whose keys are the options' long names, so the
//! file is also a `--config` that runs the same again; this crate reads the
//! keys it needs and leaves the rest to whoever resolves options.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use csrs_artifacts::{CertificationFiles, write_atomically};
use csrs_data::DatasetName;
use serde::Serialize;

/// The settings that decide what a record certifies: a resumed run must
/// keep them, or one file would hold certificates of different smoothed
/// classifiers, draws or tests.
const DECISIVE: &[&str] = &[
    "model",
    "arch",
    "mean",
    "std",
    "dataset",
    "cost",
    "sigma",
    "noise",
    // Another precision is another base classifier.
    "precision",
    "n0",
    "n",
    "target_radius",
    "radius_tolerance",
    "alpha",
    "seed",
    // Another shard's examples in one file would be merged twice.
    "shard",
    // What a run of the Python package certified (the CLI's is `dataset`).
    "inputs",
];

/// Decisive settings that runs made before them did not save, with the
/// value those runs had.
const DEFAULTS: &[(&str, &str)] = &[("noise", "gaussian"), ("precision", "f32")];

/// A run's resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    table: toml::Table,
    /// The table as written: in the order of the type it was made from.
    text: String,
}

impl Settings {
    /// The settings `options` serialize to: a struct whose fields are the
    /// options by their long names.
    ///
    /// # Errors
    /// When `options` is not a TOML table.
    pub fn new<T: Serialize>(options: &T) -> anyhow::Result<Self> {
        let text = toml::to_string(options).context("cannot write the settings as TOML")?;
        // Read back from the text, so that values compare as a file read
        // later holds them (an f32 written, then read as an f64).
        let table = text.parse().context("cannot read the settings back")?;
        Ok(Settings { table, text })
    }

    /// The settings beside the records at `records`, if there are any.
    ///
    /// # Errors
    /// When the file cannot be read or is not TOML.
    pub fn of_run(records: &Path) -> anyhow::Result<Option<Self>> {
        let path = CertificationFiles::new(records).resolved_config();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        let table: toml::Table =
            text.parse().map_err(|err: toml::de::Error| anyhow!("{}: {}", path.display(), err.message().trim()))?;
        Ok(Some(Self::from_table(table)))
    }

    fn from_table(table: toml::Table) -> Self {
        let text = table.to_string();
        Settings { table, text }
    }

    /// The value of the option `key`, if set.
    pub fn get(&self, key: &str) -> Option<&toml::Value> {
        self.table.get(key)
    }

    /// These settings with `key` set to `value`.
    #[must_use]
    pub fn with(&self, key: &str, value: impl Into<toml::Value>) -> Self {
        let mut table = self.table.clone();
        table.insert(key.to_owned(), value.into());
        Self::from_table(table)
    }

    /// Fails, naming the first setting that differs, unless these settings
    /// continue the run that `earlier` (its saved settings) started.
    /// Settings saved before a key existed have its default ([`DEFAULTS`]).
    ///
    /// # Errors
    /// The first decisive setting that differs.
    pub fn check_continues(&self, earlier: &Settings) -> anyhow::Result<()> {
        let value = |settings: &Settings, key: &str| {
            let default = DEFAULTS.iter().find(|(name, _)| *name == key).map(|&(_, value)| toml::Value::from(value));
            settings.get(key).cloned().or(default)
        };
        let then = |key: &str| value(earlier, key);
        let now = |key: &str| value(self, key);
        let shown = |value: Option<toml::Value>| value.map_or_else(|| "unset".to_owned(), |value| value.to_string());
        match DECISIVE.iter().find(|key| then(key) != now(key)) {
            Some(key) => bail!(
                "--resume: the records were made with {key} {}, this run has {}; resume with the same settings, or choose another --out",
                shown(then(key)),
                shown(now(key))
            ),
            None => Ok(()),
        }
    }

    /// Writes these settings beside the records at `out`, as
    /// `<out>.config.toml`, with `note` as a comment under its first line.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save_beside(&self, out: &Path, note: Option<&str>) -> anyhow::Result<()> {
        let path = CertificationFiles::new(out).resolved_config();
        let note = note.map_or_else(String::new, |note| format!("# {note}\n"));
        let text = format!("# Settings of the run that wrote the records beside this file.\n{note}{}", self.text);
        write_atomically(&path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The number of classes of the dataset the records at `records` were made
/// on, from their settings: `None` without them, for a dataset whose
/// classes are its folders, or when the settings cannot be read (the
/// records are still good; a warning says why their classes go unchecked).
pub(crate) fn classes_of_run(records: &Path) -> Option<usize> {
    let dataset = Settings::of_run(records).and_then(|settings| {
        match settings.as_ref().and_then(|settings| settings.get("dataset")) {
            None => Ok(None),
            Some(toml::Value::String(name)) => name.parse::<DatasetName>().map(Some).context("dataset"),
            Some(other) => bail!("dataset: {other}, expected a dataset's name"),
        }
    });
    match dataset {
        Ok(dataset) => dataset.and_then(|d| d.class_names()).map(|names| names.len()),
        Err(err) => {
            eprintln!("csrs: warning: {err:#}; the classes of {} are not checked", records.display());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Options {
        model: String,
        mean: Vec<f32>,
        noise: Option<String>,
        batch: usize,
    }

    fn options(noise: Option<&str>, batch: usize) -> Options {
        Options { model: "m".into(), mean: vec![0.4914, 0.4822], noise: noise.map(str::to_owned), batch }
    }

    #[test]
    fn saved_settings_are_read_back_and_continue_the_same_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r.tsv");
        let settings = Settings::new(&options(None, 400)).unwrap();
        settings.save_beside(&out, Some("shard 1/2")).unwrap();
        let text = std::fs::read_to_string(CertificationFiles::new(&out).resolved_config()).unwrap();
        assert!(text.starts_with("# Settings of the run") && text.contains("\n# shard 1/2\nmodel = \"m\"\n"), "{text}");
        let read = Settings::of_run(&out).unwrap().unwrap();
        // The batch changes no count; before `noise` was a setting, runs
        // were Gaussian.
        Settings::new(&options(Some("gaussian"), 1000)).unwrap().check_continues(&read).unwrap();
        let err = Settings::new(&options(Some("sound"), 400)).unwrap().check_continues(&read).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--resume: the records were made with noise \"gaussian\", this run has \"sound\"; resume with the same settings, or choose another --out"
        );
        assert_eq!(Settings::of_run(&dir.path().join("none.tsv")).unwrap(), None);
    }

    /// Runs made before `precision` was a setting computed in f32.
    #[test]
    fn another_precision_is_another_run() {
        let before = Settings::new(&options(None, 400)).unwrap();
        let f32 = before.with("precision", "f32");
        f32.check_continues(&before).unwrap();
        before.check_continues(&f32).unwrap();
        let err = before.with("precision", "bf16").check_continues(&before).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--resume: the records were made with precision \"f32\", this run has \"bf16\"; resume with the same settings, or choose another --out"
        );
    }
}
