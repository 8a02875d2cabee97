//! The settings of a run as errors name them. A library's error that tells
//! the user to change a setting holds it as a [`Setting`], and each front
//! end spells it in its own words when it shows the error: the command as
//! `--out`, the Python package as `out=`.

use std::error::Error;
use std::fmt;

use crate::OutputError;

/// A setting of a run that an error may ask the user to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Continue records that have no settings file, with this run's.
    AdoptSettings,
    /// A network file's architecture.
    Arch,
    /// Records compared with a baseline.
    Compare,
    /// The folder of a dataset read from files.
    DataDir,
    /// The dataset certified.
    Dataset,
    /// The device a run computes on.
    Device,
    /// Replace outputs that exist.
    Force,
    /// Per-channel means of a network file's normalisation.
    Mean,
    /// Where the records go.
    Out,
    /// Where a figure goes.
    Plot,
    /// The precision a network computes in.
    Precision,
    /// The radii a table reports.
    Radii,
    /// The radius a run drawing in rounds stops at.
    TargetRadius,
    /// Continue the records that exist.
    Resume,
    /// The part of the examples a run certifies.
    Shard,
    /// Per-channel standard deviations of a network file's normalisation.
    Std,
}

impl Setting {
    /// The setting's key in configuration and settings files.
    pub fn key(self) -> &'static str {
        match self {
            Setting::AdoptSettings => "adopt_settings",
            Setting::Arch => "arch",
            Setting::Compare => "compare",
            Setting::DataDir => "data_dir",
            Setting::Dataset => "dataset",
            Setting::Device => "device",
            Setting::Force => "force",
            Setting::Mean => "mean",
            Setting::Out => "out",
            Setting::Plot => "plot",
            Setting::Precision => "precision",
            Setting::Radii => "radii",
            Setting::Resume => "resume",
            Setting::Shard => "shard",
            Setting::Std => "std",
            Setting::TargetRadius => "target_radius",
        }
    }
}

/// How a front end names settings in its messages.
pub trait Spelling {
    /// The setting on its own: `--out`, `out`.
    fn name(&self, setting: Setting) -> String;

    /// The setting given `value`: `--shard 0/4`, `shard=0/4`.
    fn given(&self, setting: Setting, value: &dyn fmt::Display) -> String;

    /// A switch turned on: `--resume`, `resume=True`.
    fn on(&self, setting: Setting) -> String;
}

/// Settings by their keys (`out`, `shard = 0/4`, `resume = true`): how an
/// error reads where no front end words it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keys;

impl Spelling for Keys {
    fn name(&self, setting: Setting) -> String {
        setting.key().to_owned()
    }

    fn given(&self, setting: Setting, value: &dyn fmt::Display) -> String {
        format!("{} = {value}", setting.key())
    }

    fn on(&self, setting: Setting) -> String {
        format!("{} = true", setting.key())
    }
}

/// An error whose text names settings: written once, spelled by whichever
/// front end shows it ([`spelled`]); as [`Display`](fmt::Display), by
/// [`Keys`].
pub struct Worded {
    text: Box<Text>,
    source: Option<Box<dyn Error + Send + Sync>>,
}

/// What writes a [`Worded`] error's text with a spelling's names.
type Text = dyn Fn(&dyn Spelling) -> String + Send + Sync;

impl Worded {
    /// The error whose text `text` writes with a spelling's names.
    pub fn new(text: impl Fn(&dyn Spelling) -> String + Send + Sync + 'static) -> Self {
        Worded { text: Box::new(text), source: None }
    }

    /// This error, caused by `source` (shown after it).
    #[must_use]
    pub fn caused_by(self, source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Worded { source: Some(source.into()), ..self }
    }

    /// The text with settings spelled by `spelling`.
    pub fn text(&self, spelling: &dyn Spelling) -> String {
        (self.text)(spelling)
    }
}

impl fmt::Display for Worded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(&Keys))
    }
}

impl fmt::Debug for Worded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Worded").field(&self.text(&Keys)).finish()
    }
}

impl Error for Worded {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|source| source as &(dyn Error + 'static))
    }
}

/// The text of `error` and of each of its causes, outermost first, joined
/// by `: ` (as anyhow's `{:#}` joins them), with the settings of each
/// [`Worded`] or [`OutputError`] cause spelled by `spelling`; `typed` words
/// the causes of other crates' types that name settings (`None` for the
/// rest, shown as they display).
pub fn spelled(
    error: &(dyn Error + 'static),
    spelling: &dyn Spelling,
    typed: impl Fn(&(dyn Error + 'static)) -> Option<String>,
) -> String {
    let mut texts = Vec::new();
    let mut cause = Some(error);
    while let Some(current) = cause {
        let text = if let Some(worded) = current.downcast_ref::<Worded>() {
            worded.text(spelling)
        } else if let Some(output) = current.downcast_ref::<OutputError>() {
            output.text(spelling)
        } else {
            typed(current).unwrap_or_else(|| current.to_string())
        };
        texts.push(text);
        cause = current.source();
    }
    texts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings as environment variables: `OUT`, `SHARD=5/4`.
    struct Variables;

    impl Spelling for Variables {
        fn name(&self, setting: Setting) -> String {
            setting.key().to_uppercase()
        }

        fn given(&self, setting: Setting, value: &dyn fmt::Display) -> String {
            format!("{}={value}", self.name(setting))
        }

        fn on(&self, setting: Setting) -> String {
            format!("{}=1", self.name(setting))
        }
    }

    #[derive(Debug)]
    struct Outer(Worded);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot certify")
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_front_end_spells_the_settings_an_error_names() {
        let worded = || {
            Worded::new(|s| {
                format!("r.tsv exists: pass {} or choose another {}", s.on(Setting::Resume), s.name(Setting::Out))
            })
        };
        assert_eq!(worded().to_string(), "r.tsv exists: pass resume = true or choose another out");
        let error = Outer(worded());
        assert_eq!(
            spelled(&error, &Variables, |_| None),
            "cannot certify: r.tsv exists: pass RESUME=1 or choose another OUT"
        );
        let shard = Worded::new(|s| format!("{}: expected i/k", s.given(Setting::Shard, &"5/4")));
        assert_eq!(spelled(&shard, &Variables, |_| None), "SHARD=5/4: expected i/k");
        assert_eq!(spelled(&shard, &Keys, |_| None), "shard = 5/4: expected i/k");
        assert_eq!(
            spelled(&error, &Keys, |_| Some("typed".into())),
            "typed: r.tsv exists: pass resume = true or choose another out"
        );
        assert_eq!(Setting::AdoptSettings.key(), "adopt_settings");
        let exists = OutputError::Exists { path: "m.json".into() };
        assert_eq!(
            spelled(&exists, &Variables, |_| None),
            "m.json already exists: pass FORCE=1 to replace it, or choose another output"
        );
    }
}
