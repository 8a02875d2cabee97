//! `cargo xtask experiment FILE`: a grid of training methods × cost matrices
//! × noise levels on one or more datasets, trained, certified and compared in
//! one report (SPEC §7).
//!
//! Every step is a `csrs` command whose inputs are written next to its
//! outputs (`train.toml`, the certify command line in `<records>.key`). A step
//! whose key matches and that finished (`.done`) is skipped; one that started
//! with the same key resumes; one whose key changed starts again, and so do
//! the certifications of a model trained again. A grid can thus be stopped and
//! restarted at any time, and edited.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow, bail};
use csrs_artifacts::{CertificationFiles, TrainingFiles};
use serde::{Deserialize, Deserializer};
use toml::{Table, Value};

use crate::{cargo, project_root};

/// A grid, as read from `configs/experiments/*.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Grid {
    /// The file's stem.
    #[serde(skip)]
    name: String,
    description: String,
    methods: Vec<String>,
    sigmas: Vec<f64>,
    radii: Vec<f64>,
    /// Hyperparameters shared by every run.
    train: Table,
    /// Each method's `[objective]` of the training configuration.
    #[serde(rename = "method", default)]
    method_train: Table,
    /// `csrs certify` options (n0, n, alpha, batch, seed).
    certify: Table,
    /// Where every step runs: `cpu` or `cuda[:N]`.
    #[serde(default = "cpu")]
    device: String,
    #[serde(rename = "dataset")]
    datasets: Vec<DatasetGrid>,
}

fn cpu() -> String {
    "cpu".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetGrid {
    name: String,
    architecture: String,
    /// The folder of a dataset that is not embedded, relative to the
    /// project root unless absolute.
    data_dir: Option<String>,
    /// Cost matrices by short name, in the order of the names.
    #[serde(deserialize_with = "sorted_pairs")]
    costs: Vec<(String, String)>,
    /// Certify every `skip`-th test example.
    #[serde(default = "every_example")]
    skip: NonZeroU64,
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
struct Run<'a> {
    dataset: &'a DatasetGrid,
    sigma: f64,
    method: &'a str,
    /// The cost matrix a cost-sensitive method trains for.
    cost: Option<&'a (String, String)>,
    dir: PathBuf,
}

impl Run<'_> {
    fn label(&self) -> String {
        match self.cost {
            Some((name, _)) => format!("{}-{name}", self.method),
            None => self.method.to_owned(),
        }
    }

    fn model(&self) -> TrainingFiles {
        TrainingFiles::new(&self.dir.join("model"))
    }

    fn certification(&self, cost: &str) -> CertificationFiles {
        CertificationFiles::new(&self.dir.join(format!("certify-{cost}.tsv")))
    }
}

const USAGE: &str = "usage: cargo xtask experiment configs/experiments/NAME.toml [--device cpu|cuda[:N]] [--dry-run]";

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut file = None;
    let mut device = None;
    let mut dry_run = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "--device" => device = Some(args.next().ok_or_else(|| anyhow!("--device needs a value\n{USAGE}"))?.clone()),
            other if other.starts_with("--") => bail!("unknown option {other}\n{USAGE}"),
            other if file.is_none() => file = Some(other.to_owned()),
            _ => bail!("{USAGE}"),
        }
    }
    let file = file.ok_or_else(|| anyhow!("{USAGE}"))?;
    let root = project_root();
    let path = root.join(&file);
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut grid = parse(&text, &path).with_context(|| path.display().to_string())?;
    if let Some(device) = device {
        grid.device = device;
    }
    let out = root.join("results").join(&grid.name);
    let runs = runs(&grid, &out);
    if dry_run {
        for line in plan(&grid, &runs) {
            println!("{line}");
        }
        return Ok(());
    }

    if grid.device.starts_with("cuda") {
        cargo(&["build", "--release", "--package", "csrs-cli", "--features", "cuda"])?;
    } else {
        cargo(&["build", "--release", "--package", "csrs-cli"])?;
    }
    let csrs = root.join("target/release/csrs");
    for run in &runs {
        train(&csrs, &grid, run)?;
        for (cost, cost_file) in certified_costs(run) {
            certify(&csrs, &grid, run, cost, cost_file)?;
        }
    }
    let report = report(&csrs, &grid, &runs, &file)?;
    let report_path = out.join("report.md");
    fs::write(&report_path, report).with_context(|| format!("cannot write {}", report_path.display()))?;
    eprintln!("wrote {}", report_path.display());
    Ok(())
}

fn parse(text: &str, path: &Path) -> anyhow::Result<Grid> {
    let mut grid: Grid = toml::from_str(text).map_err(|err| anyhow!("{}", err.to_string().trim_end()))?;
    grid.name = path.file_stem().and_then(|s| s.to_str()).ok_or_else(|| anyhow!("no file name"))?.to_owned();
    if grid.device != "cpu" && !grid.device.starts_with("cuda") {
        bail!("`device` is {:?}, expected \"cpu\" or \"cuda[:N]\"", grid.device);
    }
    // A -cs method trains for a cost matrix: its objective says how.
    let has_cost_part = |method: &str| {
        grid.method_train.get(method).and_then(Value::as_table).is_some_and(|t| t.contains_key("cost_sensitive"))
    };
    if let Some(method) = grid.methods.iter().find(|m| m.ends_with("-cs") != has_cost_part(m)) {
        bail!(
            "method {method}: a [method.{method}] table with a cost_sensitive part goes with a name ending in -cs, and only then"
        );
    }
    Ok(grid)
}

/// Every training run, in the order they are done: dataset, σ, method, cost.
fn runs<'a>(grid: &'a Grid, out: &Path) -> Vec<Run<'a>> {
    let mut runs = Vec::new();
    for dataset in &grid.datasets {
        for &sigma in &grid.sigmas {
            for method in &grid.methods {
                let costs: Vec<Option<&(String, String)>> =
                    if method.ends_with("-cs") { dataset.costs.iter().map(Some).collect() } else { vec![None] };
                for cost in costs {
                    let mut run = Run { dataset, sigma, method, cost, dir: PathBuf::new() };
                    run.dir = out.join(&dataset.name).join(format!("sigma-{sigma}")).join(run.label());
                    runs.push(run);
                }
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
/// noise level S only (MACER's lambda depends on sigma in the paper).
fn train_config(grid: &Grid, run: &Run<'_>) -> String {
    let mut config = grid.train.clone();
    let objective_method = run.method.trim_end_matches("-cs").to_owned();
    let mut objective = Table::from_iter([("method".to_owned(), Value::String(objective_method))]);
    if let Some(Value::Table(method)) = grid.method_train.get(run.method) {
        let own_sigma = format!("sigma={}", run.sigma);
        for (key, value) in method {
            match (key.strip_prefix("sigma="), value) {
                (Some(_), Value::Table(at_sigma)) if *key == own_sigma => objective.extend(at_sigma.clone()),
                (Some(_), _) => {}
                (None, value) => {
                    objective.insert(key.clone(), value.clone());
                }
            }
        }
    }
    config.extend(run.dataset.train.clone());
    let path = |p: &Path| Value::String(p.display().to_string());
    if let Some(dir) = &run.dataset.data_dir {
        config.insert("data_dir".into(), path(&project_root().join(dir)));
    }
    config.insert("dataset".into(), Value::String(run.dataset.name.clone()));
    config.insert("architecture".into(), Value::String(run.dataset.architecture.clone()));
    config.insert("sigma".into(), Value::Float(run.sigma));
    config.insert("out".into(), path(run.model().stem()));
    if let Some((_, file)) = run.cost {
        config.insert("cost".into(), path(&project_root().join(file)));
    }
    config.insert("objective".into(), Value::Table(objective));
    format!("# Written by `cargo xtask experiment {}`.\n{}", grid.name, toml::to_string(&config).expect("TOML values"))
}

/// What a step's key file says about it.
enum StepState {
    Done,
    Started,
    New,
}

/// Compares the key of a step with the one stored at `key_path`; a changed
/// key removes `outputs` and stores the new key.
fn step_state(key_path: &Path, key: &str, outputs: &[PathBuf]) -> anyhow::Result<StepState> {
    let done = key_path.with_extension("done");
    if fs::read_to_string(key_path).is_ok_and(|stored| stored == key) {
        return Ok(if fs::read_to_string(&done).is_ok_and(|stored| stored == key) {
            StepState::Done
        } else {
            StepState::Started
        });
    }
    for output in outputs.iter().chain([&done]) {
        if output.exists() {
            fs::remove_file(output).with_context(|| format!("cannot remove {}", output.display()))?;
        }
    }
    if let Some(parent) = key_path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::write(key_path, key).with_context(|| format!("cannot write {}", key_path.display()))?;
    Ok(StepState::New)
}

fn mark_done(key_path: &Path, key: &str) -> anyhow::Result<()> {
    let done = key_path.with_extension("done");
    fs::write(&done, key).with_context(|| format!("cannot write {}", done.display()))
}

/// The `csrs train` arguments of a run, after `train`.
fn train_args(grid: &Grid, run: &Run<'_>) -> Vec<String> {
    let mut args = vec!["--config".into(), run.dir.join("train.toml").display().to_string()];
    args.extend(device_args(grid));
    args
}

/// `--device D` unless D is the CPU, csrs's default (so that the keys of
/// steps run before grids had a device stay valid).
fn device_args(grid: &Grid) -> Vec<String> {
    if grid.device == "cpu" { Vec::new() } else { vec!["--device".into(), grid.device.clone()] }
}

fn train(csrs: &Path, grid: &Grid, run: &Run<'_>) -> anyhow::Result<()> {
    let config = train_config(grid, run);
    // The device is part of what a model is (its noise comes from the
    // device's generator): training elsewhere starts again.
    let key = format!("{config}{}", device_args(grid).join(" "));
    let config_path = run.dir.join("train.toml");
    let model = run.model();
    let mut outputs = model.outputs().to_vec();
    // A model trained again invalidates its certificates.
    for (cost, _) in &run.dataset.costs {
        let certification = run.certification(cost);
        let records = certification.records();
        outputs.extend([records.with_extension("key"), records.with_extension("done")]);
        outputs.extend(certification.outputs());
    }
    let resume = match step_state(&config_path.with_extension("key"), &key, &outputs)? {
        StepState::Done => {
            eprintln!("trained already: {}", run.dir.display());
            return Ok(());
        }
        StepState::Started => model.metadata().exists(),
        StepState::New => false,
    };
    fs::write(&config_path, &config).with_context(|| format!("cannot write {}", config_path.display()))?;
    let mut command = Command::new(csrs);
    command.arg("train").args(train_args(grid, run));
    if resume {
        command.arg("--resume");
    }
    execute(command)?;
    mark_done(&config_path.with_extension("key"), &key)
}

/// The `csrs certify` arguments of a run against one cost matrix.
fn certify_args(grid: &Grid, run: &Run<'_>, cost: &str, cost_file: &str) -> Vec<String> {
    let certification = run.certification(cost);
    let records = certification.records();
    let mut args: Vec<String> = vec![
        "certify".into(),
        "--model".into(),
        run.model().stem().display().to_string(),
        "--dataset".into(),
        run.dataset.name.clone(),
        "--cost".into(),
        project_root().join(cost_file).display().to_string(),
        "--sigma".into(),
        run.sigma.to_string(),
        "--skip".into(),
        run.dataset.skip.to_string(),
        "--out".into(),
        records.display().to_string(),
    ];
    args.extend(device_args(grid));
    if let Some(dir) = &run.dataset.data_dir {
        args.extend(["--data-dir".into(), project_root().join(dir).display().to_string()]);
    }
    for (key, value) in &grid.certify {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        args.extend([format!("--{key}"), value]);
    }
    args
}

/// What the grid would run, one `csrs` command per line, in order.
fn plan(grid: &Grid, runs: &[Run<'_>]) -> Vec<String> {
    let mut lines = Vec::new();
    for run in runs {
        lines.push(format!("csrs train {}", train_args(grid, run).join(" ")));
        for (cost, cost_file) in certified_costs(run) {
            lines.push(format!("csrs {}", certify_args(grid, run, cost, cost_file).join(" ")));
        }
    }
    lines
}

/// The cost matrices a run's model is certified against: every matrix of
/// its dataset, or a cost-sensitive method's own.
fn certified_costs<'a>(run: &'a Run<'_>) -> impl Iterator<Item = (&'a str, &'a str)> {
    run.dataset
        .costs
        .iter()
        .filter(|(cost, _)| run.cost.is_none_or(|(own, _)| own == cost))
        .map(|(cost, file)| (cost.as_str(), file.as_str()))
}

fn certify(csrs: &Path, grid: &Grid, run: &Run<'_>, cost: &str, cost_file: &str) -> anyhow::Result<()> {
    let certification = run.certification(cost);
    let records = certification.records();
    let args = certify_args(grid, run, cost, cost_file);
    let key = args.join(" ");
    let resume = match step_state(&records.with_extension("key"), &key, &certification.outputs())? {
        StepState::Done => {
            eprintln!("certified already: {}", records.display());
            return Ok(());
        }
        StepState::Started => records.exists(),
        StepState::New => false,
    };
    let mut command = Command::new(csrs);
    command.args(&args);
    if resume {
        command.arg("--resume");
    }
    execute(command)?;
    mark_done(&records.with_extension("key"), &key)
}

fn execute(mut command: Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}").replace('"', "");
    eprintln!("$ {shown}");
    let status = command.status().with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Columns of `csrs analyze --format tsv`, by name, for each records file.
fn analyze(csrs: &Path, radii: &[f64], records: &[PathBuf]) -> anyhow::Result<Vec<Vec<(String, String)>>> {
    let radii: Vec<String> = radii.iter().map(f64::to_string).collect();
    let output = Command::new(csrs)
        .args(["analyze", "--format", "tsv", "--radii", &radii.join(",")])
        .args(records)
        .output()
        .context("cannot run csrs analyze")?;
    if !output.status.success() {
        bail!("csrs analyze failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let text = String::from_utf8(output.stdout).context("csrs analyze wrote something else than text")?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    Ok(lines
        .map(|line| header.iter().map(|h| (*h).to_owned()).zip(line.split('\t').map(str::to_owned)).collect())
        .collect())
}

/// Seconds of training, from the per-epoch log.
fn training_seconds(run: &Run<'_>) -> Option<f64> {
    let log = fs::read_to_string(run.model().log()).ok()?;
    let mut lines = log.lines();
    let column = lines.next()?.split(',').position(|c| c == "seconds")?;
    lines.map(|line| line.split(',').nth(column).and_then(|s| s.parse::<f64>().ok())).sum()
}

/// One table per dataset, cost matrix and σ, one row per method.
fn report(csrs: &Path, grid: &Grid, runs: &[Run<'_>], file: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n\n{}\n\nProduced by `cargo xtask experiment {file}`.", grid.name, grid.description);
    let certify: Vec<String> = grid.certify.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let _ = writeln!(out, "Certification: {}.", certify.join(", "));
    let pick = |row: &[(String, String)], name: &str| {
        row.iter().find(|(column, _)| column == name).map_or(String::new(), |(_, value)| value.clone())
    };
    for dataset in &grid.datasets {
        for (cost, cost_file) in &dataset.costs {
            for &sigma in &grid.sigmas {
                let group: Vec<&Run<'_>> = runs
                    .iter()
                    .filter(|r| r.dataset.name == dataset.name && r.sigma == sigma)
                    .filter(|r| r.cost.is_none_or(|(own, _)| own == cost))
                    .collect();
                let records: Vec<PathBuf> = group.iter().map(|r| r.certification(cost).records().to_owned()).collect();
                let rows = analyze(csrs, &grid.radii, &records)?;
                let which =
                    if dataset.skip == NonZeroU64::MIN { String::new() } else { format!(" (one in {})", dataset.skip) };
                let _ = writeln!(
                    out,
                    "\n## {} ({}), cost `{cost_file}`, σ = {sigma}\n\n{} test examples{which}, {} of them sensitive.\n",
                    dataset.name,
                    dataset.architecture,
                    rows.first().map_or(String::new(), |r| pick(r, "examples")),
                    rows.first().map_or(String::new(), |r| pick(r, "sensitive")),
                );
                let radii = |prefix: &str| grid.radii.iter().map(|r| format!("{prefix} {r}")).collect::<Vec<_>>();
                let mut header = vec!["method".to_owned(), "clean acc.".to_owned()];
                header.extend(radii("cert. acc."));
                header.extend(radii("CS robust"));
                header.extend(["ACR".to_owned(), "ACR (CS)".to_owned(), "train s".to_owned()]);
                let _ = writeln!(out, "| {} |\n|{}", header.join(" | "), "---|".repeat(header.len()));
                for (run, row) in group.iter().zip(&rows) {
                    let mut cells = vec![run.method.to_owned(), pick(row, "clean_accuracy")];
                    cells.extend(grid.radii.iter().map(|r| pick(row, &format!("certified_accuracy@{r}"))));
                    cells.extend(grid.radii.iter().map(|r| pick(row, &format!("cs_robustness@{r}"))));
                    cells.push(pick(row, "acr"));
                    cells.push(pick(row, "acr_cs"));
                    cells.push(training_seconds(run).map_or(String::new(), |s| format!("{s:.0}")));
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_grids_parse_into_their_runs() {
        let dir = project_root().join("configs/experiments");
        let path = dir.join("cs-cpu.toml");
        let grid = parse(&fs::read_to_string(&path).unwrap(), &path).unwrap();
        let runs = runs(&grid, Path::new("out"));
        // Per dataset and sigma: gaussian, macer, and each -cs method per cost matrix.
        assert_eq!(runs.len(), 2 * 2 * 6);
        let labels: Vec<String> = runs.iter().take(6).map(Run::label).collect();
        assert_eq!(
            labels,
            ["gaussian", "gaussian-cs-pair38", "gaussian-cs-seed3", "macer", "macer-cs-pair38", "macer-cs-seed3"]
        );
        for run in &runs {
            let config: Table = train_config(&grid, run).parse().unwrap();
            let objective = config["objective"].as_table().unwrap();
            let method = objective["method"].as_str().unwrap();
            assert_eq!(method, run.method.trim_end_matches("-cs"));
            assert_eq!(config.contains_key("cost"), run.method.ends_with("-cs"));
            assert_eq!(objective.contains_key("cost_sensitive"), run.method.ends_with("-cs"));
            assert_eq!(objective.contains_key("lambda"), method == "macer");
        }
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            parse(&fs::read_to_string(&path).unwrap(), &path)
                .unwrap_or_else(|err| panic!("{}: {err:#}", path.display()));
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

    #[test]
    fn the_paper_grid_runs_on_the_gpu_at_full_scale() {
        let path = project_root().join("configs/experiments/cifar10-paper.toml");
        let text = fs::read_to_string(&path).unwrap();
        let grid = parse(&text, &path).unwrap();
        let runs = runs(&grid, Path::new("out"));
        // Per sigma: gaussian, macer, and macer-cs for each of the two matrices.
        assert_eq!(runs.len(), 2 * 4);
        let lines = plan(&grid, &runs);
        // Each of 8 trainings; gaussian and macer certified against both
        // matrices, each macer-cs against its own.
        assert_eq!(lines.iter().filter(|l| l.starts_with("csrs train ")).count(), 8);
        assert_eq!(lines.iter().filter(|l| l.starts_with("csrs certify ")).count(), 2 * (2 + 2 + 2));
        assert!(lines.iter().all(|line| line.contains("--device cuda:0")), "{lines:#?}");
        let certify: Vec<&String> = lines.iter().filter(|l| l.starts_with("csrs certify ")).collect();
        assert!(
            certify.iter().all(|l| l.contains("--n 100000") && l.contains("--skip 1") && l.contains("--data-dir "))
        );

        // lambda follows sigma for macer; the other methods have none.
        for run in &runs {
            let config: Table = train_config(&grid, run).parse().unwrap();
            let lambda = config["objective"].get("lambda").and_then(Value::as_float);
            let expected = match (run.method, run.sigma) {
                ("macer", 0.25) => Some(12.0),
                ("macer", _) => Some(4.0),
                ("macer-cs", _) => Some(3.0),
                _ => None,
            };
            assert_eq!(lambda, expected, "{} at sigma {}", run.method, run.sigma);
            assert!(!config.keys().any(|k| k.starts_with("sigma=")));
            assert_eq!(config["epochs"].as_integer(), Some(440));
            assert!(config["data_dir"].as_str().unwrap().ends_with("data/cifar10"));
        }

        // --device overrides the grid's.
        let mut other = parse(&text, &path).unwrap();
        other.device = "cuda:1".into();
        let other_runs = super::runs(&other, Path::new("out"));
        assert!(plan(&other, &other_runs).iter().all(|line| line.contains("--device cuda:1")));
    }

    #[test]
    fn a_step_is_skipped_resumed_or_started_again() {
        let dir = std::env::temp_dir().join(format!("xtask-step-{}", std::process::id()));
        let key_path = dir.join("train.key");
        let output = dir.join("model.mpk");
        assert!(matches!(step_state(&key_path, "a", std::slice::from_ref(&output)).unwrap(), StepState::New));
        fs::write(&output, "weights").unwrap();
        assert!(matches!(step_state(&key_path, "a", std::slice::from_ref(&output)).unwrap(), StepState::Started));
        mark_done(&key_path, "a").unwrap();
        assert!(matches!(step_state(&key_path, "a", std::slice::from_ref(&output)).unwrap(), StepState::Done));
        // Another key: the old output and the done mark go.
        assert!(matches!(step_state(&key_path, "b", std::slice::from_ref(&output)).unwrap(), StepState::New));
        assert!(!output.exists() && !key_path.with_extension("done").exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
