//! What a run's records certify: the settings a resumed run must keep.

use anyhow::anyhow;
use serde::{Deserialize, Serialize};

/// The settings that decide what a record certifies, one field each: a
/// resumed run must keep every one, or one file would hold certificates of
/// different smoothed classifiers, draws or tests.
///
/// Each front end builds it from its options, and its settings file names
/// each field as this type does ([`Settings::new`](crate::Settings::new)
/// refuses options that spell one otherwise, so a renamed option cannot
/// drop out of the comparison). Read from a settings file, a field the
/// file lacks is unset, but for `noise` and `precision`: runs made before
/// those were settings were Gaussian and computed in f32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunIdentity {
    /// The base classifier: a checkpoint, a network file, or the name a
    /// Python model was given.
    pub model: Option<String>,
    /// Denoised smoothing: another denoiser is another base classifier.
    pub denoiser: Option<String>,
    /// A network file's architecture and normalisation, where given.
    pub arch: Option<String>,
    /// Per-channel means of a network file's normalisation.
    pub mean: Option<Vec<f32>>,
    /// Per-channel standard deviations of a network file's normalisation.
    pub std: Option<Vec<f32>>,
    /// The dataset certified (the command's runs).
    pub dataset: Option<String>,
    /// The cost matrix: a file's path, or the matrix itself.
    pub cost: Option<toml::Value>,
    /// The noise level σ.
    pub sigma: Option<f64>,
    /// The noise (`gaussian` or `sound`).
    pub noise: String,
    /// Another precision is another base classifier.
    pub precision: String,
    /// Selection draws.
    pub n0: Option<u64>,
    /// Estimation draws (the most, for runs that stop early).
    pub n: Option<u64>,
    /// The radius a run drawing in rounds stops at.
    pub target_radius: Option<f64>,
    /// How close a run drawing in rounds gets to its radius ceiling.
    pub radius_tolerance: Option<f64>,
    /// The failure probability α.
    pub alpha: Option<f64>,
    /// The seed of the noise.
    pub seed: Option<u64>,
    /// Another shard's examples in one file would be merged twice.
    pub shard: Option<String>,
    /// What a Python run certified: a fingerprint of its inputs and labels.
    pub inputs: Option<String>,
}

impl Default for RunIdentity {
    /// Nothing set; Gaussian noise computed in f32.
    fn default() -> Self {
        RunIdentity {
            model: None,
            denoiser: None,
            arch: None,
            mean: None,
            std: None,
            dataset: None,
            cost: None,
            sigma: None,
            noise: "gaussian".to_owned(),
            precision: "f32".to_owned(),
            n0: None,
            n: None,
            target_radius: None,
            radius_tolerance: None,
            alpha: None,
            seed: None,
            shard: None,
            inputs: None,
        }
    }
}

/// A field of two identities that differs, with each side's value as a
/// settings file writes it (`unset` for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The field's name, as a settings file spells it.
    pub field: String,
    /// Its value in the first identity.
    pub then: String,
    /// Its value in the second.
    pub now: String,
}

impl RunIdentity {
    /// The identity a settings table holds.
    ///
    /// # Errors
    /// A decisive setting of another type than a run writes (a number
    /// where a name belongs), named.
    pub fn of_table(table: &toml::Table) -> anyhow::Result<Self> {
        let value = toml::Value::Table(table.clone());
        serde_path_to_error::deserialize(value).map_err(|err| anyhow!("{}: {}", err.path(), err.inner().message()))
    }

    /// The first field, in the order of this type, whose value differs
    /// between `self` and `other`: by value, or, for NaN, which equals no
    /// value, as written.
    ///
    /// # Panics
    /// On a count above [`MAX_INTEGER`](crate::MAX_INTEGER), which no
    /// settings file holds ([`Settings::new`](crate::Settings::new) refuses
    /// one before it compares).
    pub fn first_difference(&self, other: &RunIdentity) -> Option<Difference> {
        let (then, now) = (self.fields(), other.fields());
        then.into_iter().zip(now).find_map(|((field, then), (_, now))| {
            let (shown_then, shown_now) = (shown(then.as_ref()), shown(now.as_ref()));
            (then != now && shown_then != shown_now).then_some(Difference { field, then: shown_then, now: shown_now })
        })
    }

    /// Every field by name, in the order of the type, with its value as a
    /// settings file holds it (`None` when unset).
    fn fields(&self) -> Vec<(String, Option<toml::Value>)> {
        // TOML's tables sort their keys, JSON's objects keep the fields'
        // order (but hold no NaN): the names from one, the values from the
        // other.
        let serde_json::Value::Object(names) = serde_json::to_value(self).expect("an identity serializes") else {
            unreachable!("an identity serializes to an object")
        };
        let toml::Value::Table(mut values) = toml::Value::try_from(self).expect("an identity serializes") else {
            unreachable!("an identity serializes to a table")
        };
        names
            .into_iter()
            .map(|(field, _)| {
                let value = values.remove(&field);
                (field, value)
            })
            .collect()
    }
}

fn shown(value: Option<&toml::Value>) -> String {
    value.map_or_else(|| "unset".to_owned(), toml::Value::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_a_file_lacks_are_unset_but_the_noise_and_precision_of_older_runs() {
        let table: toml::Table = "sigma = 0.25\nn = 1000\nbatch = 400\n".parse().unwrap();
        let identity = RunIdentity::of_table(&table).unwrap();
        let expected = RunIdentity { sigma: Some(0.25), n: Some(1000), ..RunIdentity::default() };
        assert_eq!(identity, expected);
        assert_eq!((identity.noise.as_str(), identity.precision.as_str()), ("gaussian", "f32"));
    }

    #[test]
    fn the_first_difference_is_named_in_the_order_of_the_fields() {
        let a = RunIdentity { sigma: Some(0.25), seed: Some(0), ..RunIdentity::default() };
        let b = RunIdentity { sigma: Some(0.5), seed: None, ..RunIdentity::default() };
        let difference = a.first_difference(&b).unwrap();
        assert_eq!(
            (difference.field.as_str(), difference.then.as_str(), difference.now.as_str()),
            ("sigma", "0.25", "0.5")
        );
        let difference = b.first_difference(&RunIdentity { sigma: Some(0.5), ..a.clone() }).unwrap();
        assert_eq!(
            (difference.field.as_str(), difference.then.as_str(), difference.now.as_str()),
            ("seed", "unset", "0")
        );
        assert_eq!(a.first_difference(&a), None);
    }

    #[test]
    fn a_decisive_setting_of_another_type_is_named() {
        let table: toml::Table = "sigma = \"a quarter\"\n".parse().unwrap();
        let err = RunIdentity::of_table(&table).unwrap_err().to_string();
        assert!(err.starts_with("sigma: invalid type: string"), "{err}");
    }
}
