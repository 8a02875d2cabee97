//! The settings of the run that wrote some records, `<records>.config.toml`
//! beside them: written when a new run opens its records (by a resumed
//! run, with its first record), compared when it is resumed (a file must hold certificates of one smoothed classifier),
//! and read to check the records' classes against their dataset.
//!
//! They are a TOML table whose keys are the options' long names, so the
//! file is also a `--config` that runs the same again; this crate reads the
//! keys it needs and leaves the rest to whoever resolves options.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use csrs_artifacts::{CertificationFiles, Setting, Worded, write_atomically};
use csrs_data::DatasetName;
use serde::Serialize;

use crate::RunIdentity;
use crate::identity::Difference;

/// The largest integer a settings file holds: TOML's integers are signed
/// 64-bit, so a larger seed, skip or bound would be written, and then
/// refused when the run reads its own settings back.
pub const MAX_INTEGER: u64 = i64::MAX as u64;

/// A run's resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    table: toml::Table,
    /// The table as written: in the order of the type it was made from.
    text: String,
}

impl Settings {
    /// The settings `options` serialize to (a struct whose fields are the
    /// options by their long names), for a run of `identity`.
    ///
    /// # Errors
    /// When `options` is not a TOML table, or holds a value TOML cannot
    /// (an integer above [`MAX_INTEGER`], a path that is not UTF-8): the
    /// run could not read its own settings back. When the options, read
    /// as a later run reads them, hold another identity than `identity`:
    /// a decisive option named otherwise than [`RunIdentity`] names it
    /// would be left out of every comparison.
    pub fn new<T: Serialize>(identity: &RunIdentity, options: &T) -> anyhow::Result<Self> {
        check_representable(options)?;
        let text = toml::to_string(options).context("cannot write the settings as TOML")?;
        // Read back from the text, so that values compare as a file read
        // later holds them (an f32 written, then read as an f64).
        let table = text.parse().context("cannot read the settings back")?;
        let settings = Settings { table, text };
        let given = toml::to_string(identity).context("cannot write the run's identity as TOML")?;
        let given = RunIdentity::of_table(&given.parse().context("cannot read the run's identity back")?)?;
        if let Some(difference) = given.first_difference(&settings.identity()?) {
            let Difference { field, then, now } = difference;
            bail!(
                "the run's {field} is {then}, its settings hold {now}: each decisive setting must be written under its name"
            );
        }
        Ok(settings)
    }

    /// The settings of a run whose options are its identity alone.
    ///
    /// # Errors
    /// As [`Settings::new`].
    pub fn for_identity(identity: &RunIdentity) -> anyhow::Result<Self> {
        Self::new(identity, identity)
    }

    /// The identity of the run these settings are of.
    ///
    /// # Errors
    /// A decisive setting of another type than a run writes, named.
    pub fn identity(&self) -> anyhow::Result<RunIdentity> {
        RunIdentity::of_table(&self.table)
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
    /// continue the run that `earlier` (its saved settings) started: the
    /// two [`RunIdentity`]s are the same.
    ///
    /// # Errors
    /// The first decisive setting that differs.
    pub fn check_continues(&self, earlier: &Settings) -> anyhow::Result<()> {
        let then = earlier.identity().context("the records' settings")?;
        match then.first_difference(&self.identity()?) {
            Some(Difference { field, then, now }) => Err(Worded::new(move |s| {
                format!(
                    "{}: the records were made with {field} {then}, this run has {now}; resume with the same settings, or choose another {}",
                    s.on(Setting::Resume),
                    s.name(Setting::Out)
                )
            })
            .into()),
            None => Ok(()),
        }
    }

    /// The radius of a `--target-radius` run: its inputs stopped drawing
    /// once their answer at this radius was known, so its certified
    /// fractions are exact there and lower bounds at any other radius.
    ///
    /// # Errors
    /// A `target_radius` that is not a number.
    pub fn target_radius(&self) -> anyhow::Result<Option<f64>> {
        match self.get("target_radius") {
            None => Ok(None),
            Some(toml::Value::Float(radius)) => Ok(Some(*radius)),
            // A radius written as a whole number in a hand-made --config.
            Some(toml::Value::Integer(radius)) => Ok(Some(*radius as f64)),
            Some(other) => bail!("target_radius: {other}, expected a radius"),
        }
    }

    /// The first setting, by name, whose value differs between these
    /// settings and `other` (one side may lack it).
    pub fn first_difference(&self, other: &Settings) -> Option<String> {
        let mut keys = self.table.keys().chain(other.table.keys().filter(|key| !self.table.contains_key(*key)));
        keys.find(|key| self.get(key) != other.get(key)).cloned()
    }

    /// The text of `<out>.config.toml` for these settings, with `note` as
    /// a comment under its first line.
    fn file_text(&self, note: Option<&str>) -> String {
        let note = note.map_or_else(String::new, |note| format!("# {note}\n"));
        format!("# Settings of the run that wrote the records beside this file.\n{note}{}", self.text)
    }

    /// Whether `<out>.config.toml` holds exactly these settings with
    /// `note`, as [`save_beside`](Self::save_beside) would write them.
    pub fn are_saved_beside(&self, out: &Path, note: Option<&str>) -> bool {
        let path = CertificationFiles::new(out).resolved_config();
        std::fs::read(path).is_ok_and(|text| text == self.file_text(note).as_bytes())
    }

    /// Writes these settings beside the records at `out`, as
    /// `<out>.config.toml`, with `note` as a comment under its first line.
    /// A file that holds them already is left as it is: a run given its
    /// own settings file as `--config` does not write onto its input.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save_beside(&self, out: &Path, note: Option<&str>) -> anyhow::Result<()> {
        if self.are_saved_beside(out, note) {
            return Ok(());
        }
        let path = CertificationFiles::new(out).resolved_config();
        write_atomically(&path, self.file_text(note).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Fails, naming the setting, on a value of `options` that a settings file
/// cannot hold, so that no run writes settings it cannot read back.
fn check_representable<T: Serialize>(options: &T) -> anyhow::Result<()> {
    let value = serde_path_to_error::serialize(options, serde_json::value::Serializer)
        .map_err(|err| anyhow!("{}: {}", err.path(), err.inner()))?;
    // Anything but a table is refused by TOML itself.
    let serde_json::Value::Object(settings) = value else { return Ok(()) };
    match settings.iter().find_map(|(key, value)| too_large(value).map(|number| (key, number))) {
        Some((key, number)) => {
            bail!("{key} {number}, expected at most {MAX_INTEGER}: the largest integer a settings file (TOML) holds")
        }
        None => Ok(()),
    }
}

/// An integer in `value`, or in its arrays and tables, above
/// [`MAX_INTEGER`].
fn too_large(value: &serde_json::Value) -> Option<u64> {
    use serde_json::Value;
    match value {
        Value::Number(number) => number.as_u64().filter(|&number| number > MAX_INTEGER),
        Value::Array(items) => items.iter().find_map(too_large),
        Value::Object(fields) => fields.values().find_map(too_large),
        _ => None,
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

    impl Options {
        fn identity(&self) -> RunIdentity {
            let noise = self.noise.clone().unwrap_or_else(|| RunIdentity::default().noise);
            RunIdentity {
                model: Some(self.model.clone()),
                mean: Some(self.mean.clone()),
                noise,
                ..RunIdentity::default()
            }
        }

        fn settings(&self) -> Settings {
            Settings::new(&self.identity(), self).unwrap()
        }
    }

    fn options(noise: Option<&str>, batch: usize) -> Options {
        Options { model: "m".into(), mean: vec![0.4914, 0.4822], noise: noise.map(str::to_owned), batch }
    }

    #[test]
    fn options_that_name_a_decisive_setting_otherwise_are_refused() {
        #[derive(Serialize)]
        struct Renamed {
            model: String,
            noise_level: f64,
        }
        let renamed = Renamed { model: "m".into(), noise_level: 0.25 };
        let identity = RunIdentity { model: Some("m".into()), sigma: Some(0.25), ..RunIdentity::default() };
        let err = Settings::new(&identity, &renamed).unwrap_err().to_string();
        assert_eq!(
            err,
            "the run's sigma is 0.25, its settings hold unset: each decisive setting must be written under its name"
        );
        // A decisive option the identity leaves out is refused too.
        let err = Settings::new(&RunIdentity::default(), &renamed).unwrap_err().to_string();
        assert!(err.starts_with("the run's model is unset, its settings hold \"m\""), "{err}");
    }

    #[test]
    fn saved_settings_are_read_back_and_continue_the_same_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r.tsv");
        let settings = options(None, 400).settings();
        settings.save_beside(&out, Some("shard 1/2")).unwrap();
        let text = std::fs::read_to_string(CertificationFiles::new(&out).resolved_config()).unwrap();
        assert!(text.starts_with("# Settings of the run") && text.contains("\n# shard 1/2\nmodel = \"m\"\n"), "{text}");
        let read = Settings::of_run(&out).unwrap().unwrap();
        // The batch changes no count; before `noise` was a setting, runs
        // were Gaussian.
        options(Some("gaussian"), 1000).settings().check_continues(&read).unwrap();
        let err = options(Some("sound"), 400).settings().check_continues(&read).unwrap_err();
        assert_eq!(
            err.to_string(),
            "resume = true: the records were made with noise \"gaussian\", this run has \"sound\"; resume with the same settings, or choose another out"
        );
        assert_eq!(Settings::of_run(&dir.path().join("none.tsv")).unwrap(), None);
    }

    #[test]
    fn integers_a_settings_file_cannot_hold_are_refused_by_name() {
        #[derive(Serialize)]
        struct Run {
            seed: u64,
            skip: usize,
            sizes: Vec<u64>,
        }
        let largest = Run { seed: MAX_INTEGER, skip: 1, sizes: vec![MAX_INTEGER] };
        let identity = |run: &Run| RunIdentity { seed: Some(run.seed), ..RunIdentity::default() };
        assert_eq!(
            Settings::new(&identity(&largest), &largest).unwrap().get("seed"),
            Some(&toml::Value::Integer(i64::MAX))
        );
        for (run, key, value) in [
            (Run { skip: usize::MAX, ..largest }, "skip", u64::MAX),
            (Run { seed: MAX_INTEGER + 1, skip: 1, sizes: vec![] }, "seed", MAX_INTEGER + 1),
            (Run { seed: 0, skip: 1, sizes: vec![1, u64::MAX] }, "sizes", u64::MAX),
        ] {
            let err = Settings::new(&identity(&run), &run).unwrap_err().to_string();
            let expected = format!(
                "{key} {value}, expected at most 9223372036854775807: the largest integer a settings file (TOML) holds"
            );
            assert_eq!(err, expected);
        }
    }

    #[test]
    fn settings_saved_unchanged_are_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r.tsv");
        let settings = options(None, 400).settings();
        assert!(!settings.are_saved_beside(&out, None));
        settings.save_beside(&out, Some("shard 0/2")).unwrap();
        assert!(settings.are_saved_beside(&out, Some("shard 0/2")) && !settings.are_saved_beside(&out, None));
        // A read-only file that holds them already is left alone.
        let path = CertificationFiles::new(&out).resolved_config();
        let mut permissions = std::fs::metadata(&path).unwrap().permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(&path, permissions).unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        settings.save_beside(&out, Some("shard 0/2")).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), modified);
        let read = Settings::of_run(&out).unwrap().unwrap();
        let other = options(None, 1000).settings();
        assert_eq!(other.first_difference(&read).as_deref(), Some("batch"));
        assert_eq!(read.first_difference(&settings), None);
        assert_eq!(settings.with("target_radius", 0.5).target_radius().unwrap(), Some(0.5));
        assert_eq!(settings.target_radius().unwrap(), None);
    }

    /// Runs made before `precision` was a setting computed in f32.
    #[test]
    fn another_precision_is_another_run() {
        let before = options(None, 400).settings();
        let f32 = before.with("precision", "f32");
        f32.check_continues(&before).unwrap();
        before.check_continues(&f32).unwrap();
        let err = before.with("precision", "bf16").check_continues(&before).unwrap_err();
        assert_eq!(
            err.to_string(),
            "resume = true: the records were made with precision \"f32\", this run has \"bf16\"; resume with the same settings, or choose another out"
        );
    }
}

/// Every value a run's settings can hold reads back as it was written, or
/// is refused, naming the setting, before anything is written.
#[cfg(test)]
mod round_trip {
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    /// The kinds of values runs save: names and paths, counts and sizes,
    /// seeds, levels and radii, per-channel numbers.
    #[derive(Debug, Serialize, Deserialize)]
    struct Saved {
        model: String,
        data_dir: Option<String>,
        n: u64,
        seed: u64,
        skip: usize,
        max: Option<usize>,
        sigma: f64,
        target_radius: Option<f64>,
        mean: Option<Vec<f32>>,
    }

    /// Numbers with the edge cases TOML spells apart: signed zeros,
    /// infinities, NaN, subnormals, and whole numbers.
    fn real() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(f64::MIN_POSITIVE / 3.0),
            Just(1e300),
            (-1000i32..1000).prop_map(f64::from),
        ]
    }

    fn saved() -> impl Strategy<Value = Saved> {
        let count = prop_oneof![Just(0u64), Just(MAX_INTEGER), Just(MAX_INTEGER + 1), Just(u64::MAX), any::<u64>()];
        let channels = prop::collection::vec(prop_oneof![any::<f32>(), Just(f32::NAN), Just(-0.0f32)], 0..4);
        (
            ("\\PC*", proptest::option::of("[ -~\t\n\\\\\"']{0,12}")),
            (count.clone(), any::<u64>(), count.clone().prop_map(|c| c as usize), proptest::option::of(count)),
            (real(), proptest::option::of(real()), proptest::option::of(channels)),
        )
            .prop_map(|((model, data_dir), (n, seed, skip, max), (sigma, target_radius, mean))| Saved {
                model,
                data_dir,
                n,
                seed,
                skip,
                max: max.map(|max| max as usize),
                sigma,
                target_radius,
                mean,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn saved_settings_read_back_as_written(written in saved()) {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("r.tsv");
            let identity = RunIdentity {
                model: Some(written.model.clone()),
                mean: written.mean.clone(),
                sigma: Some(written.sigma),
                n: Some(written.n),
                target_radius: written.target_radius,
                seed: Some(written.seed),
                ..RunIdentity::default()
            };
            match Settings::new(&identity, &written) {
                Ok(settings) => {
                    settings.save_beside(&out, None).unwrap();
                    let read = Settings::of_run(&out).unwrap().unwrap();
                    let back: Saved = toml::Value::Table(read.table.clone()).try_into().unwrap();
                    // Debug shows NaN as NaN and keeps -0.0 apart from 0.0.
                    prop_assert_eq!(format!("{back:?}"), format!("{written:?}"));
                    // A run given the same settings continues the saved ones.
                    settings.check_continues(&read).unwrap();
                }
                Err(err) => {
                    let message = err.to_string();
                    prop_assert!(message.contains(&format!("expected at most {MAX_INTEGER}")), "{}", message);
                    prop_assert!(!CertificationFiles::new(&out).resolved_config().exists());
                }
            }
        }
    }
}
