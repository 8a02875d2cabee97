//! The grid file, `configs/experiments/*.toml`: what it holds, how it is
//! checked, and the training runs and `csrs train` configurations it stands
//! for. Everything else of an experiment is derived from these runs.

use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use csrs_artifacts::{CertificationFiles, TrainingFiles};
use serde::{Deserialize, Deserializer};
use toml::{Table, Value};

use super::check_device;

/// A grid, as read from `configs/experiments/*.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Grid {
    /// The file's stem.
    #[serde(skip)]
    pub(super) name: String,
    pub(super) description: String,
    methods: Vec<String>,
    pub(super) sigmas: Vec<f64>,
    pub(super) radii: Vec<f64>,
    /// Hyperparameters shared by every run.
    train: Table,
    /// Each method's `[objective]` of the training configuration.
    #[serde(rename = "method", default)]
    method_train: Table,
    /// `csrs certify` options (n0, n, alpha, batch, seed).
    pub(super) certify: Table,
    /// Where every step runs: `cpu` or `cuda[:N]`.
    #[serde(default = "cpu")]
    pub(super) device: String,
    #[serde(rename = "dataset")]
    pub(super) datasets: Vec<DatasetGrid>,
    /// The denoiser of the grid's `denoiser-*` methods.
    #[serde(default)]
    denoiser: Option<DenoiserGrid>,
}

/// How a grid's denoisers are trained: in front of which method's model,
/// and which network.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DenoiserGrid {
    /// The method whose model (at the same dataset and σ) each denoiser is
    /// trained in front of, frozen, and certified with.
    classifier: String,
    /// The denoiser, as a training configuration's `denoiser` table.
    network: Table,
}

/// Whether a method trains a denoiser (in front of the grid's classifier)
/// rather than a classifier.
fn is_denoiser(method: &str) -> bool {
    method.starts_with("denoiser-")
}

fn cpu() -> String {
    "cpu".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DatasetGrid {
    pub(super) name: String,
    pub(super) architecture: String,
    /// The folder of a dataset that is not embedded, relative to the
    /// project root unless absolute.
    pub(super) data_dir: Option<String>,
    /// Cost matrices by short name, in the order of the names.
    #[serde(deserialize_with = "sorted_pairs")]
    pub(super) costs: Vec<(String, String)>,
    /// Certify every `skip`-th test example.
    #[serde(default = "every_example")]
    pub(super) skip: NonZeroU64,
    /// Hyperparameters of this dataset, over the grid's `[train]` (top-level
    /// keys only: the objective comes from the method's table).
    #[serde(default)]
    train: Table,
}

fn every_example() -> NonZeroU64 {
    NonZeroU64::MIN
}

fn sorted_pairs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, String)>, D::Error> {
    BTreeMap::<String, String>::deserialize(deserializer).map(|pairs| pairs.into_iter().collect())
}

/// One training run of the grid.
pub(super) struct Run<'a> {
    pub(super) dataset: &'a DatasetGrid,
    pub(super) sigma: f64,
    pub(super) method: &'a str,
    /// The cost matrix a cost-sensitive method trains for.
    pub(super) cost: Option<&'a (String, String)>,
    /// Relative to the project root, like every path of a step.
    pub(super) dir: PathBuf,
    /// For a denoiser's run, the run (its index) whose model it is trained
    /// in front of and certified with.
    pub(super) classifier: Option<usize>,
}

impl Run<'_> {
    fn label(&self) -> String {
        match self.cost {
            Some((name, _)) => format!("{}-{name}", self.method),
            None => self.method.to_owned(),
        }
    }

    pub(super) fn model(&self) -> TrainingFiles {
        TrainingFiles::new(&self.dir.join("model"))
    }

    pub(super) fn certification(&self, cost: &str) -> CertificationFiles {
        CertificationFiles::new(&self.dir.join(format!("certify-{cost}.tsv")))
    }
}

pub(super) fn parse(text: &str, path: &Path) -> anyhow::Result<Grid> {
    let mut grid: Grid = toml::from_str(text).map_err(|err| anyhow!("{}", err.to_string().trim_end()))?;
    grid.name = path.file_stem().and_then(|s| s.to_str()).ok_or_else(|| anyhow!("no file name"))?.to_owned();
    check_device(&grid.device)
        .map_err(|_| anyhow!("`device` is {:?}, expected \"cpu\" or \"cuda[:N]\"", grid.device))?;
    // A -cs method trains for a cost matrix: its objective says how.
    let has_cost_part = |method: &str| {
        grid.method_train.get(method).and_then(Value::as_table).is_some_and(|t| t.contains_key("cost_sensitive"))
    };
    if let Some(method) = grid.methods.iter().find(|m| m.ends_with("-cs") != has_cost_part(m)) {
        bail!(
            "method {method}: a [method.{method}] table with a cost_sensitive part goes with a name ending in -cs, and only then"
        );
    }
    if let Some(method) = grid.methods.iter().find(|m| is_denoiser(m)) {
        let Some(denoiser) = &grid.denoiser else {
            bail!("method {method} trains a denoiser: the grid needs a [denoiser] table (its classifier and network)");
        };
        let classifier = &denoiser.classifier;
        if !grid.methods.contains(classifier) || is_denoiser(classifier) || classifier.ends_with("-cs") {
            bail!(
                "[denoiser] classifier = {classifier:?}: expected one of the grid's methods that trains a classifier for no cost matrix"
            );
        }
    }
    Ok(grid)
}

/// Every training run, in the order they are done: dataset, σ, method, cost.
pub(super) fn runs<'a>(grid: &'a Grid, out: &Path) -> Vec<Run<'a>> {
    let mut runs = Vec::new();
    for dataset in &grid.datasets {
        for &sigma in &grid.sigmas {
            for method in &grid.methods {
                let costs: Vec<Option<&(String, String)>> =
                    if method.ends_with("-cs") { dataset.costs.iter().map(Some).collect() } else { vec![None] };
                for cost in costs {
                    let mut run = Run { dataset, sigma, method, cost, dir: PathBuf::new(), classifier: None };
                    run.dir = out.join(&dataset.name).join(format!("sigma-{sigma}")).join(run.label());
                    runs.push(run);
                }
            }
        }
    }
    if let Some(denoiser) = &grid.denoiser {
        for i in 0..runs.len() {
            if is_denoiser(runs[i].method) {
                let (name, sigma) = (&runs[i].dataset.name, runs[i].sigma);
                runs[i].classifier = runs.iter().position(|classifier| {
                    classifier.method == denoiser.classifier
                        && classifier.dataset.name == *name
                        && classifier.sigma == sigma
                });
            }
        }
    }
    runs
}

/// The `csrs train` configuration of a run: the grid's `[train]`, and the
/// method's table as its `[objective]` (whose `method` is the run's method
/// without its `-cs`, unless the table names it).
///
/// A method's table may hold tables named `"sigma=S"`: hyperparameters for
/// noise level S only (MACER's lambda depends on sigma in the paper); and a
/// table `train`, top-level settings of this method's runs over the grid's
/// (e.g. `sigma = 0.0`, a classifier trained on clean images for denoised
/// smoothing, certified at the grid's σ; a denoiser's own optimiser).
///
/// A denoiser's run trains in front of the model of `classifier` (its
/// run's), with the grid's `[denoiser]` network.
pub(super) fn train_config(grid: &Grid, run: &Run<'_>, classifier: Option<&Run<'_>>) -> String {
    let mut config = grid.train.clone();
    let objective_method = run.method.trim_end_matches("-cs").to_owned();
    let mut objective = Table::from_iter([("method".to_owned(), Value::String(objective_method))]);
    if let Some(Value::Table(method)) = grid.method_train.get(run.method) {
        let own_sigma = format!("sigma={}", run.sigma);
        for (key, value) in method {
            match (key.strip_prefix("sigma="), value) {
                (Some(_), Value::Table(at_sigma)) if *key == own_sigma => objective.extend(at_sigma.clone()),
                (Some(_), _) => {}
                (None, Value::Table(train)) if key == "train" => config.extend(train.clone()),
                (None, value) => {
                    objective.insert(key.clone(), value.clone());
                }
            }
        }
    }
    config.extend(run.dataset.train.clone());
    // Paths as the grid gives them: csrs runs in the project root.
    if let Some(dir) = &run.dataset.data_dir {
        config.insert("data_dir".into(), Value::String(dir.clone()));
    }
    config.insert("dataset".into(), Value::String(run.dataset.name.clone()));
    match (classifier, &grid.denoiser) {
        (Some(classifier), Some(denoiser)) => {
            config.insert("classifier".into(), Value::String(classifier.model().stem().display().to_string()));
            config.insert("denoiser".into(), Value::Table(denoiser.network.clone()));
        }
        _ => {
            config.insert("architecture".into(), Value::String(run.dataset.architecture.clone()));
        }
    }
    config.entry("sigma").or_insert(Value::Float(run.sigma));
    config.insert("out".into(), Value::String(run.model().stem().display().to_string()));
    if let Some((_, file)) = run.cost {
        config.insert("cost".into(), Value::String(file.clone()));
    }
    config.insert("objective".into(), Value::Table(objective));
    format!("# Written by `cargo xtask experiment {}`.\n{}", grid.name, toml::to_string(&config).expect("TOML values"))
}

/// A grid shipped in `configs/experiments`, for the tests of every part of
/// an experiment.
#[cfg(test)]
pub(super) fn shipped(name: &str) -> Grid {
    let path = crate::project_root().join("configs/experiments").join(name);
    parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::project_root;

    #[test]
    fn shipped_grids_parse_into_their_runs() {
        let grid = shipped("cs-cpu.toml");
        let runs = runs(&grid, Path::new("out"));
        // Per dataset and sigma: gaussian, macer, and each -cs method per cost matrix.
        assert_eq!(runs.len(), 2 * 2 * 6);
        let labels: Vec<String> = runs.iter().take(6).map(Run::label).collect();
        assert_eq!(
            labels,
            ["gaussian", "gaussian-cs-pair38", "gaussian-cs-seed3", "macer", "macer-cs-pair38", "macer-cs-seed3"]
        );
        for run in &runs {
            let config: Table = train_config(&grid, run, None).parse().unwrap();
            let objective = config["objective"].as_table().unwrap();
            let method = objective["method"].as_str().unwrap();
            assert_eq!(method, run.method.trim_end_matches("-cs"));
            assert_eq!(config.contains_key("cost"), run.method.ends_with("-cs"));
            assert_eq!(objective.contains_key("cost_sensitive"), run.method.ends_with("-cs"));
            assert_eq!(objective.contains_key("lambda"), method == "macer");
        }
        for entry in fs::read_dir(project_root().join("configs/experiments")).unwrap() {
            let path = entry.unwrap().path();
            parse(&fs::read_to_string(&path).unwrap(), &path)
                .unwrap_or_else(|err| panic!("{}: {err:#}", path.display()));
        }
    }

    /// A denoiser's run trains in front of its σ's classifier run, with the
    /// grid's network, and is certified with it; a method's `train` table
    /// sets its own training σ and optimiser.
    #[test]
    fn denoiser_runs_train_in_front_of_their_classifier() {
        let grid = shipped("denoised-cpu.toml");
        let runs = runs(&grid, Path::new("out"));
        assert_eq!(runs.len(), 2 * 6);
        for run in &runs {
            let classifier = run.classifier.map(|i| &runs[i]);
            let config: Table = train_config(&grid, run, classifier).parse().unwrap();
            match classifier {
                Some(classifier) => {
                    assert!(run.method.starts_with("denoiser-"));
                    assert_eq!((classifier.method, classifier.sigma), ("clean", run.sigma));
                    let stem = classifier.model().stem().display().to_string();
                    assert_eq!(config["classifier"].as_str(), Some(stem.as_str()));
                    assert_eq!(config["denoiser"]["arch"].as_str(), Some("dncnn"));
                    assert!(!config.contains_key("architecture"));
                    assert_eq!(config["optimizer"]["kind"].as_str(), Some("adam"));
                    assert_eq!(config["sigma"].as_float(), Some(run.sigma));
                }
                None => {
                    assert!(!run.method.starts_with("denoiser-"));
                    assert_eq!(config["architecture"].as_str(), Some("digits-cnn"));
                    let sigma = if run.method == "clean" { 0.0 } else { run.sigma };
                    assert_eq!(config["sigma"].as_float(), Some(sigma), "{}", run.method);
                }
            }
            assert!(!config["objective"].as_table().unwrap().contains_key("train"));
        }
        let path = project_root().join("configs/experiments/denoised-cpu.toml");
        let text = fs::read_to_string(&path).unwrap();
        for (edited, message) in [
            (
                text.replace("classifier = \"clean\"", "classifier = \"gaussian-cs\""),
                "[denoiser] classifier = \"gaussian-cs\"",
            ),
            (text.replace("[denoiser]\n", "[unused]\n"), "unknown field `unused`"),
            (
                text.lines()
                    .filter(|l| {
                        !l.starts_with("[denoiser]") && !l.starts_with("classifier =") && !l.starts_with("network =")
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                "method denoiser-stab trains a denoiser: the grid needs a [denoiser] table",
            ),
        ] {
            assert_ne!(edited, text);
            let err = parse(&edited, &path).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
    }

    #[test]
    fn malformed_grids_are_refused_naming_the_key() {
        let path = project_root().join("configs/experiments/cs-cpu.toml");
        let text = fs::read_to_string(&path).unwrap();
        for (edited, message) in [
            (text.replace("skip = 1", "skip = 0"), "expected a nonzero u64"),
            (format!("seeds = [1]\n{text}"), "unknown field `seeds`"),
            (text.replace("sigmas = [0.25, 0.5]", "sigmas = \"0.25\""), "invalid type: string"),
            (format!("device = \"tpu\"\n{text}"), "`device` is \"tpu\""),
            (
                text.replace("cost_sensitive = { gamma_sensitive = 16.0 }\n", ""),
                "method macer-cs: a [method.macer-cs] table",
            ),
        ] {
            assert_ne!(edited, text);
            let err = parse(&edited, &path).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
    }
}
