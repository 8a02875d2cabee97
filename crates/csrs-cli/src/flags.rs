//! Settings as the command spells them, in its errors and notes: its
//! flags.

use std::error::Error;
use std::fmt;

use csrs_artifacts::{Setting, Spelling, spelled};
use csrs_data::DataError;
use csrs_sampling::StopRuleError;

/// The command's flags: `--data-dir`, `--shard 0/4`, `--resume`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags;

impl Flags {
    /// The flag of the setting whose key is `key`: `data_dir` is `--data-dir`.
    fn of_key(key: &str) -> String {
        format!("--{}", key.replace('_', "-"))
    }
}

impl Spelling for Flags {
    fn name(&self, setting: Setting) -> String {
        Flags::of_key(setting.key())
    }

    fn given(&self, setting: Setting, value: &dyn fmt::Display) -> String {
        format!("{} {value}", self.name(setting))
    }

    fn on(&self, setting: Setting) -> String {
        self.name(setting)
    }
}

/// The one line the command prints for `err`: it and its causes, joined
/// by `: `, with the settings they name spelled as flags.
pub(crate) fn error_line(err: &anyhow::Error) -> String {
    spelled(err.as_ref(), &Flags, typed)
}

/// The libraries' typed errors that name a setting, in the command's
/// words.
fn typed(cause: &(dyn Error + 'static)) -> Option<String> {
    if let Some(rule) = cause.downcast_ref::<StopRuleError>() {
        return Some(rule.text(Flags::of_key));
    }
    match cause.downcast_ref::<DataError>()? {
        DataError::NoDataDir { dataset } => Some(format!(
            "dataset {dataset} is read from a folder: pass its location with {}",
            Flags.name(Setting::DataDir)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use csrs_artifacts::{OutputError, Worded};

    use super::*;

    #[test]
    fn errors_name_settings_by_their_flags() {
        let worded = Worded::new(|s| {
            format!("{} is required with {}", s.given(Setting::Shard, &"auto"), s.on(Setting::AdoptSettings))
        });
        let err = anyhow::Error::from(worded).context("r.tsv");
        assert_eq!(error_line(&err), "r.tsv: --shard auto is required with --adopt-settings");
        let exists = anyhow::Error::from(OutputError::Exists { path: "m.json".into() });
        assert_eq!(error_line(&exists), "m.json already exists: pass --force to replace it, or choose another output");
        let both = anyhow::Error::from(StopRuleError::Both);
        assert_eq!(error_line(&both), "--target-radius and --radius-tolerance are both given, expected one stop rule");
        let data = anyhow::Error::from(DataError::NoDataDir { dataset: "cifar10" });
        assert_eq!(error_line(&data), "dataset cifar10 is read from a folder: pass its location with --data-dir");
    }
}
