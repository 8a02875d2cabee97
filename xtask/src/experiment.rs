//! `cargo xtask experiment FILE`: a grid of training methods × cost matrices
//! × noise levels on one or more datasets, trained, certified and compared in
//! one report with a figure per table (SPEC §7).
//!
//! Every step is a `csrs` command, run in the project root, whose inputs are
//! written next to its outputs (`train.toml`, the certify command line in
//! `<records>.key`). A step whose key matches and that finished (`.done`) is
//! skipped; one that started with the same key resumes; one whose key changed
//! starts again, and so do the certifications of a model trained again. A grid
//! can thus be stopped and restarted at any time, and edited; the paths in
//! keys are relative to the project root, so a moved checkout keeps its
//! finished steps. `--dry-run` says which of the three each step would do,
//! changing nothing.
//!
//! Runs are independent, and a run's certifications need only its model, so
//! `--jobs N` runs up to N `csrs` processes at once, each writing its output
//! to a `.log` beside its key; `--devices cuda:0,cuda:1` gives each process
//! a device of its own (one process per device unless `--jobs` says more).
//! Which GPU ran a step is not part of its key: the GPUs of one machine give
//! the same results.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::num::{IntErrorKind, NonZeroU64, NonZeroUsize, ParseIntError};
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, mpsc};
use std::thread;

use anyhow::{Context, anyhow, bail};
use csrs_artifacts::{CertificationFiles, TrainingFiles};
use serde::{Deserialize, Deserializer};
use toml::{Table, Value};

use crate::{asks_for_help, cargo, project_root};

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
    /// Relative to the project root, like every path of a step.
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

const USAGE: &str = "usage: cargo xtask experiment configs/experiments/NAME.toml [--device cpu|cuda[:N] | --devices cuda:0,cuda:1,...] [--jobs N] [--dry-run]";

/// The command line of `cargo xtask experiment`.
#[derive(Debug)]
struct Options {
    file: String,
    device: Option<String>,
    /// The devices steps run on at once, each on one.
    devices: Option<Vec<String>>,
    /// How many `csrs` processes may run at once (by default one per
    /// device).
    jobs: Option<NonZeroUsize>,
    dry_run: bool,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut file = None;
    let mut device = None;
    let mut devices = None;
    let mut jobs = None;
    let mut dry_run = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "--device" => device = Some(value()?.clone()),
            "--devices" => devices = Some(parse_devices(value()?)?),
            "--jobs" => jobs = Some(parse_jobs(value()?)?),
            other if other.starts_with("--") => bail!("unknown option {other}\n{USAGE}"),
            other if file.is_none() => file = Some(other.to_owned()),
            _ => bail!("{USAGE}"),
        }
    }
    let file = file.ok_or_else(|| anyhow!("{USAGE}"))?;
    if device.is_some() && devices.is_some() {
        bail!("--device and --devices both given: --devices lists every device, --device names one");
    }
    Ok(Options { file, device, devices, jobs, dry_run })
}

/// `cuda:0,cuda:1`: devices of one kind (results differ between the CPU
/// and a GPU), each named once.
fn parse_devices(value: &str) -> anyhow::Result<Vec<String>> {
    let devices: Vec<String> = value.split(',').map(|d| d.trim().to_owned()).collect();
    for device in &devices {
        check_device(device).with_context(|| format!("--devices {value}"))?;
    }
    if devices.iter().any(|d| device_kind(d) != device_kind(&devices[0])) {
        bail!("--devices {value}: the CPU and GPUs give different results; list GPUs only, or use --jobs on the CPU");
    }
    if let Some(twice) = devices.iter().enumerate().find(|(i, d)| devices[..*i].contains(d)).map(|(_, d)| d) {
        bail!("--devices {value}: {twice} is listed twice; --jobs runs more than one process per device");
    }
    Ok(devices)
}

fn check_device(device: &str) -> anyhow::Result<()> {
    let index = device.strip_prefix("cuda").map(|rest| rest.strip_prefix(':').map(str::parse::<usize>));
    match (device, index) {
        ("cpu", _) | (_, Some(None | Some(Ok(_)))) => Ok(()),
        _ => bail!("device {device:?}, expected \"cpu\" or \"cuda[:N]\""),
    }
}

/// What a device is as far as results go: `cpu` or `cuda`.
fn device_kind(device: &str) -> &str {
    if device == "cpu" { "cpu" } else { "cuda" }
}

fn parse_jobs(value: &str) -> anyhow::Result<NonZeroUsize> {
    value.parse().map_err(|err: ParseIntError| match err.kind() {
        IntErrorKind::Zero => anyhow!("--jobs must be at least 1 (the number of csrs processes run at once), got 0"),
        _ => anyhow!("--jobs needs a whole number of processes, got {value:?}"),
    })
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if asks_for_help(args) {
        println!("{USAGE}");
        return Ok(());
    }
    let options = options(args)?;
    let root = project_root();
    let path = root.join(&options.file);
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut grid = parse(&text, &path).with_context(|| path.display().to_string())?;
    if let Some(device) = options.device {
        check_device(&device).context("--device")?;
        grid.device = device;
    }
    let devices = options.devices.unwrap_or_else(|| vec![grid.device.clone()]);
    grid.device.clone_from(&devices[0]);
    let jobs = options.jobs.or(NonZeroUsize::new(devices.len())).expect("one device at least");
    let out = Path::new("results").join(&grid.name);
    let runs = runs(&grid, &out);
    let chains = chains(&grid, &runs);
    if options.dry_run {
        println!("# on {}, {jobs} at once", devices.join(", "));
        let device = if devices.len() == 1 { &devices[0] } else { device_kind(&devices[0]) };
        for line in plan(&root, &chains, device) {
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
    let output = if jobs == NonZeroUsize::MIN { Output::Inherited } else { Output::LogFile };
    schedule_on(&chains, &devices, jobs, |step, device| execute(&csrs, &root, step, device, output))?;
    let figures = root.join(&out).join(FIGURES);
    fs::create_dir_all(&figures).with_context(|| format!("cannot create {}", figures.display()))?;
    let report = report(&root, &grid, &runs, &out, &options.file, |args| analyze(&csrs, &root, args))?;
    let report_path = root.join(&out).join("report.md");
    write(&report_path, &report)?;
    eprintln!("wrote {}", report_path.display());
    Ok(())
}

fn parse(text: &str, path: &Path) -> anyhow::Result<Grid> {
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
    // Paths as the grid gives them: csrs runs in the project root.
    if let Some(dir) = &run.dataset.data_dir {
        config.insert("data_dir".into(), Value::String(dir.clone()));
    }
    config.insert("dataset".into(), Value::String(run.dataset.name.clone()));
    config.insert("architecture".into(), Value::String(run.dataset.architecture.clone()));
    config.insert("sigma".into(), Value::Float(run.sigma));
    config.insert("out".into(), Value::String(run.model().stem().display().to_string()));
    if let Some((_, file)) = run.cost {
        config.insert("cost".into(), Value::String(file.clone()));
    }
    config.insert("objective".into(), Value::Table(objective));
    format!("# Written by `cargo xtask experiment {}`.\n{}", grid.name, toml::to_string(&config).expect("TOML values"))
}

/// One `csrs` command of the grid, and the files that say whether it has to
/// run. Every path is relative to the project root, where the command runs,
/// so that nothing in a key depends on where the checkout is.
#[derive(Debug)]
struct Step {
    /// The `csrs` arguments.
    args: Vec<String>,
    /// What the outputs are made from: a step whose key changed runs again.
    key: String,
    /// Where the key is stored; `.done` beside it marks a finished step, and
    /// `.log` holds its output when steps run in parallel.
    key_path: PathBuf,
    /// What a step that starts from scratch removes first: its outputs, and
    /// for a training its certifications', which a new model invalidates.
    outputs: Vec<PathBuf>,
    /// What a stopped step resumes from (`--resume`).
    checkpoint: PathBuf,
    /// A file the command reads, written before it runs, and its text.
    input: Option<(PathBuf, String)>,
}

impl Step {
    fn done_path(&self) -> PathBuf {
        self.key_path.with_extension("done")
    }

    fn log_path(&self) -> PathBuf {
        self.key_path.with_extension("log")
    }
}

/// A run's steps: its training, then its certifications, which read the
/// model it writes.
struct Chain<S> {
    train: S,
    certify: Vec<S>,
}

fn chains(grid: &Grid, runs: &[Run<'_>]) -> Vec<Chain<Step>> {
    runs.iter()
        .map(|run| {
            let certify: Vec<Step> =
                certified_costs(run).map(|(cost, file)| certify_step(grid, run, cost, file)).collect();
            Chain { train: train_step(grid, run, &certify), certify }
        })
        .collect()
}

/// The `csrs train` step of a run, whose outputs include everything its
/// certifications (`certify`) leave.
fn train_step(grid: &Grid, run: &Run<'_>, certify: &[Step]) -> Step {
    let config = train_config(grid, run);
    let config_path = run.dir.join("train.toml");
    let args = vec!["train".to_owned(), "--config".to_owned(), config_path.display().to_string()];
    let model = run.model();
    let mut outputs = model.outputs().to_vec();
    for step in certify {
        outputs.extend([step.key_path.clone(), step.done_path()]);
        outputs.extend(step.outputs.iter().cloned());
    }
    Step {
        args,
        // The kind of device is part of what a model is (its noise comes
        // from the device's generator): training elsewhere starts again.
        key: format!("{config}{}", device_args(device_kind(&grid.device)).join(" ")),
        key_path: config_path.with_extension("key"),
        outputs,
        checkpoint: model.metadata(),
        input: Some((config_path, config)),
    }
}

/// `--device D` unless D is the CPU, csrs's default (so that the keys of
/// steps run before grids had a device stay valid).
fn device_args(device: &str) -> Vec<String> {
    if device == "cpu" { Vec::new() } else { vec!["--device".into(), device.to_owned()] }
}

/// The `csrs certify` step of a run against one cost matrix; its key is its
/// command line.
fn certify_step(grid: &Grid, run: &Run<'_>, cost: &str, cost_file: &str) -> Step {
    let certification = run.certification(cost);
    let records = certification.records();
    let mut args: Vec<String> = vec![
        "certify".into(),
        "--model".into(),
        run.model().stem().display().to_string(),
        "--dataset".into(),
        run.dataset.name.clone(),
        "--cost".into(),
        cost_file.to_owned(),
        "--sigma".into(),
        run.sigma.to_string(),
        "--skip".into(),
        run.dataset.skip.to_string(),
        "--out".into(),
        records.display().to_string(),
    ];
    if let Some(dir) = &run.dataset.data_dir {
        args.extend(["--data-dir".into(), dir.clone()]);
    }
    for (key, value) in &grid.certify {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        args.extend([format!("--{key}"), value]);
    }
    Step {
        key: [args.clone(), device_args(device_kind(&grid.device))].concat().join(" "),
        args,
        key_path: records.with_extension("key"),
        outputs: certification.outputs().to_vec(),
        checkpoint: records.to_owned(),
        input: None,
    }
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

/// What a step needs, judged from its key file and its checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Finished with the same key: skipped.
    Done,
    /// Started with the same key, and has a checkpoint: continues from it.
    Resume,
    /// New, changed, or started without a checkpoint: from scratch.
    Run,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Done => "done",
            Action::Resume => "resume",
            Action::Run => "run",
        }
    }
}

/// Only reads, so that a dry run can ask too; [`prepare`] acts on the answer.
fn decide(root: &Path, step: &Step) -> Action {
    let holds_key = |path: &Path| fs::read_to_string(root.join(path)).is_ok_and(|stored| stored == step.key);
    if !holds_key(&step.key_path) {
        Action::Run
    } else if holds_key(&step.done_path()) {
        Action::Done
    } else if root.join(&step.checkpoint).exists() {
        Action::Resume
    } else {
        Action::Run
    }
}

/// Gets a step's files ready for its command. One that runs from scratch
/// loses its old outputs and stores its key first, so that stopping it
/// midway leaves a step that resumes.
fn prepare(root: &Path, step: &Step, action: Action) -> anyhow::Result<()> {
    if action == Action::Run {
        let done = step.done_path();
        for output in step.outputs.iter().chain([&done]).map(|path| root.join(path)) {
            if output.exists() {
                fs::remove_file(&output).with_context(|| format!("cannot remove {}", output.display()))?;
            }
        }
        write(&root.join(&step.key_path), &step.key)?;
    }
    if let Some((path, text)) = &step.input {
        write(&root.join(path), text)?;
    }
    Ok(())
}

fn mark_done(root: &Path, step: &Step) -> anyhow::Result<()> {
    write(&root.join(step.done_path()), &step.key)
}

/// Writes a file whole or not at all, creating its folder: a key, a mark
/// or a report is never half there.
pub(crate) fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    csrs_artifacts::write_atomically(path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// The `csrs` arguments of a step about to do `action` on `device`.
fn command_args(step: &Step, action: Action, device: &str) -> Vec<String> {
    let mut args = step.args.clone();
    args.extend(device_args(device));
    if action == Action::Resume {
        args.push("--resume".to_owned());
    }
    args
}

fn command_line(step: &Step, action: Action, device: &str) -> String {
    format!("csrs {}", command_args(step, action, device).join(" "))
}

/// `word` and the command, aligned for a column of them.
fn status_line(word: &str, step: &Step, action: Action, device: &str) -> String {
    format!("{word:<7} {}", command_line(step, action, device))
}

/// What running the grid on a `device` would do, one line per step in
/// order: `done`, `resume` or `run`, and the command.
fn plan(root: &Path, chains: &[Chain<Step>], device: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for chain in chains {
        let train = decide(root, &chain.train);
        lines.push(status_line(train.word(), &chain.train, train, device));
        for step in &chain.certify {
            // Training from scratch removes the certifications.
            let action = if train == Action::Run { Action::Run } else { decide(root, step) };
            lines.push(status_line(action.word(), step, action, device));
        }
    }
    lines
}

/// Where the output of a step's `csrs` process goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// This terminal's: steps run one at a time.
    Inherited,
    /// The step's log file, since the outputs of parallel steps would
    /// interleave.
    LogFile,
}

/// Runs one step on `device` unless it is done, in the project root, and
/// marks it done when its command succeeds; a line says when it starts and
/// when it ends.
fn execute(csrs: &Path, root: &Path, step: &Step, device: &str, output: Output) -> anyhow::Result<()> {
    let action = decide(root, step);
    let status_line = |word: &str| status_line(word, step, action, device);
    if action == Action::Done {
        eprintln!("{}", status_line("skip"));
        return Ok(());
    }
    prepare(root, step, action)?;
    let mut command = Command::new(csrs);
    command.current_dir(root).args(command_args(step, action, device));
    let log = step.log_path();
    if output == Output::LogFile {
        let path = root.join(&log);
        let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let stderr = file.try_clone().with_context(|| format!("cannot write {}", path.display()))?;
        command.stdout(file).stderr(stderr);
    }
    let shown = command_line(step, action, device);
    eprintln!("{}", status_line(action.word()));
    let status = command.status().with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        let detail = match output {
            Output::Inherited => format!("({status})"),
            Output::LogFile => format!("({status}; output in {})", log.display()),
        };
        eprintln!("{} {detail}", status_line("failed"));
        bail!("{shown} failed {detail}");
    }
    mark_done(root, step)?;
    eprintln!("{}", status_line("done"));
    Ok(())
}

/// Runs every step through `execute` as [`schedule`] does, each on one of
/// `devices`: the `jobs` processes are spread over them in turn, so that
/// with one job per device no two steps share one.
fn schedule_on<S: Sync>(
    chains: &[Chain<S>],
    devices: &[String],
    jobs: NonZeroUsize,
    execute: impl Fn(&S, &str) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    // A slot per process; a step holds one while it runs, and the scheduler
    // runs no more steps than there are slots.
    let slots = Mutex::new((0..jobs.get()).rev().map(|slot| devices[slot % devices.len()].clone()).collect::<Vec<_>>());
    schedule(chains, jobs, |step| {
        let device = slots.lock().expect("no step panics holding the slots").pop().expect("a slot per job");
        let result = execute(step, &device);
        slots.lock().expect("no step panics holding the slots").push(device);
        result
    })
}

/// Runs every step through `execute`, at most `jobs` at once: a chain's
/// certifications once its training succeeded, and otherwise in the grid's
/// order (so one job runs the steps as listed). After a failure no step
/// starts; the running ones finish, and the error names the failed steps.
fn schedule<S: Sync>(
    chains: &[Chain<S>],
    jobs: NonZeroUsize,
    execute: impl Fn(&S) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    // Every step in order, with the steps its success makes ready.
    let mut steps: Vec<(&S, Range<usize>)> = Vec::new();
    let mut ready = BTreeSet::new();
    for chain in chains {
        let train = steps.len();
        ready.insert(train);
        steps.push((&chain.train, train + 1..train + 1 + chain.certify.len()));
        steps.extend(chain.certify.iter().map(|step| (step, 0..0)));
    }
    let mut failures = Vec::new();
    let (finished, results) = mpsc::channel();
    thread::scope(|scope| {
        let mut running = 0;
        loop {
            while failures.is_empty()
                && running < jobs.get()
                && let Some(next) = ready.pop_first()
            {
                let (step, finished, execute) = (steps[next].0, finished.clone(), &execute);
                scope.spawn(move || {
                    // A panic would otherwise leave the loop waiting for it.
                    let result = panic::catch_unwind(AssertUnwindSafe(|| execute(step)))
                        .unwrap_or_else(|_| Err(anyhow!("a step panicked")));
                    finished.send((next, result)).expect("the scheduler waits for every step");
                });
                running += 1;
            }
            if running == 0 {
                break;
            }
            let (step, result) = results.recv().expect("a running step reports");
            running -= 1;
            match result {
                Ok(()) => ready.extend(steps[step].1.clone()),
                Err(err) => failures.push(format!("{err:#}")),
            }
        }
    });
    match failures.as_slice() {
        [] => Ok(()),
        [failure] => Err(anyhow!("{failure}")),
        _ => Err(anyhow!("{} steps failed: {}", failures.len(), failures.join("; "))),
    }
}

/// A row of `csrs analyze --format tsv`: (column, cell) pairs.
type Row = Vec<(String, String)>;

/// Runs `csrs analyze ARGS` in the project root and reads its table.
fn analyze(csrs: &Path, root: &Path, args: &[String]) -> anyhow::Result<Vec<Row>> {
    let output = Command::new(csrs).current_dir(root).args(args).output().context("cannot run csrs analyze")?;
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

/// The `csrs analyze` arguments of one table: the records of its runs
/// against `cost`, and its figure, with one curve per run named by method.
fn analyze_args(grid: &Grid, group: &[&Run<'_>], cost: &str, figure: &Path) -> Vec<String> {
    let radii: Vec<String> = grid.radii.iter().map(f64::to_string).collect();
    let mut args: Vec<String> = ["analyze", "--format", "tsv", "--radii"].map(String::from).to_vec();
    // The figure is the report's own, drawn again with it.
    args.extend([radii.join(","), "--force".to_owned(), "--plot".to_owned(), figure.display().to_string()]);
    for run in group {
        args.extend(["--label".to_owned(), run.method.to_owned()]);
    }
    args.extend(group.iter().map(|run| run.certification(cost).records().display().to_string()));
    args
}

/// Seconds of training, from the per-epoch log.
fn training_seconds(root: &Path, run: &Run<'_>) -> Option<f64> {
    let log = fs::read_to_string(root.join(run.model().log())).ok()?;
    let mut lines = log.lines();
    let column = lines.next()?.split(',').position(|c| c == "seconds")?;
    lines.map(|line| line.split(',').nth(column).and_then(|s| s.parse::<f64>().ok())).sum()
}

/// The folder of the figures, beside the report, which links them relatively.
const FIGURES: &str = "figures";

/// One table and one figure per dataset, cost matrix and σ, one row and one
/// curve per method; `analyze` runs `csrs analyze` with the arguments given.
fn report(
    root: &Path,
    grid: &Grid,
    runs: &[Run<'_>],
    out: &Path,
    file: &str,
    mut analyze: impl FnMut(&[String]) -> anyhow::Result<Vec<Row>>,
) -> anyhow::Result<String> {
    let mut text = String::new();
    let _ = writeln!(text, "# {}\n\n{}\n\nProduced by `cargo xtask experiment {file}`.", grid.name, grid.description);
    let certify: Vec<String> = grid.certify.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let _ = writeln!(text, "Certification: {}.", certify.join(", "));
    let _ = writeln!(
        text,
        "Brackets are 95% Clopper–Pearson intervals over the test examples (accuracies) or the sensitive examples (CS robust)."
    );
    for dataset in &grid.datasets {
        for (cost, cost_file) in &dataset.costs {
            for &sigma in &grid.sigmas {
                let group: Vec<&Run<'_>> = runs
                    .iter()
                    .filter(|r| r.dataset.name == dataset.name && r.sigma == sigma)
                    .filter(|r| r.cost.is_none_or(|(own, _)| own == cost))
                    .collect();
                let figure = format!("{}-{cost}-sigma{sigma}.svg", dataset.name);
                let rows = analyze(&analyze_args(grid, &group, cost, &out.join(FIGURES).join(&figure)))?;
                if rows.len() != group.len() {
                    bail!("csrs analyze gave {} rows for the {} runs of {figure}", rows.len(), group.len());
                }
                let which =
                    if dataset.skip == NonZeroU64::MIN { String::new() } else { format!(" (one in {})", dataset.skip) };
                let _ = writeln!(
                    text,
                    "\n## {} ({}), cost `{cost_file}`, σ = {sigma}\n\n{} test examples{which}, {} of them sensitive.\n",
                    dataset.name,
                    dataset.architecture,
                    rows.first().map_or(String::new(), |r| cell(r, "examples")),
                    rows.first().map_or(String::new(), |r| cell(r, "sensitive")),
                );
                text.push_str(&table(root, grid, &group, &rows));
                let _ = writeln!(text, "\n![{}, {cost}, σ = {sigma}]({FIGURES}/{figure})", dataset.name);
            }
        }
    }
    Ok(text)
}

/// One row per run of a group, from its row of `csrs analyze`.
fn table(root: &Path, grid: &Grid, group: &[&Run<'_>], rows: &[Row]) -> String {
    let radii = |prefix: &str| grid.radii.iter().map(|r| format!("{prefix} {r}")).collect::<Vec<_>>();
    // Records made before csrs recorded the base model's prediction have
    // no base accuracy: no column for them.
    let base = rows.iter().any(|row| !cell(row, "base_accuracy").is_empty());
    let mut header = vec!["method".to_owned(), "clean acc.".to_owned()];
    if base {
        header.push("base acc.".to_owned());
    }
    header.extend(radii("cert. acc."));
    header.extend(radii("CS robust"));
    header.extend(["ACR".to_owned(), "ACR (CS)".to_owned(), "train s".to_owned()]);
    let mut text = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
    for (run, row) in group.iter().zip(rows) {
        let mut cells = vec![run.method.to_owned(), with_interval(row, "clean_accuracy")];
        if base {
            cells.push(with_interval(row, "base_accuracy"));
        }
        cells.extend(grid.radii.iter().map(|r| cell(row, &format!("certified_accuracy@{r}"))));
        cells.extend(grid.radii.iter().map(|r| with_interval(row, &format!("cs_robustness@{r}"))));
        cells.push(cell(row, "acr"));
        cells.push(cell(row, "acr_cs"));
        cells.push(training_seconds(root, run).map_or(String::new(), |s| format!("{s:.0}")));
        let _ = writeln!(text, "| {} |", cells.join(" | "));
    }
    text
}

/// A cell of `csrs analyze`'s row, empty when the column is missing.
fn cell(row: &Row, column: &str) -> String {
    row.iter().find(|(name, _)| name == column).map_or(String::new(), |(_, value)| value.clone())
}

/// A fraction and its 95% interval, `0.7450 [0.60, 0.86]`, when `csrs
/// analyze` gave one (`<column>_low`, `<column>_high`); the value alone
/// otherwise.
fn with_interval(row: &Row, column: &str) -> String {
    let value = cell(row, column);
    let bound = |side: &str| cell(row, &format!("{column}_{side}")).parse::<f64>().ok();
    match (bound("low"), bound("high")) {
        (Some(low), Some(high)) if !value.is_empty() => format!("{value} [{low:.2}, {high:.2}]"),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    fn shipped(name: &str) -> Grid {
        let path = project_root().join("configs/experiments").join(name);
        parse(&fs::read_to_string(&path).unwrap(), &path).unwrap()
    }

    fn every_step(chains: &[Chain<Step>]) -> impl Iterator<Item = &Step> {
        chains.iter().flat_map(|chain| std::iter::once(&chain.train).chain(&chain.certify))
    }

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
            let config: Table = train_config(&grid, run).parse().unwrap();
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
    fn jobs_is_a_positive_number_of_processes() {
        let options = |line: &str| options(&line.split_whitespace().map(String::from).collect::<Vec<_>>());
        assert_eq!(options("grid.toml").unwrap().jobs, None);
        let given = options("grid.toml --jobs 3 --dry-run").unwrap();
        assert!(given.jobs.map(NonZeroUsize::get) == Some(3) && given.dry_run && given.file == "grid.toml");
        let given = options("grid.toml --devices cuda:0,cuda:1,cuda").unwrap();
        assert_eq!(given.devices.unwrap(), ["cuda:0", "cuda:1", "cuda"]);
        for (line, message) in [
            ("grid.toml --jobs 0", "--jobs must be at least 1"),
            ("grid.toml --jobs two", "--jobs needs a whole number of processes, got \"two\""),
            ("grid.toml --jobs", "--jobs needs a value"),
            ("grid.toml --devices cuda:0,cpu", "list GPUs only"),
            ("grid.toml --devices cuda:0,cuda:0", "cuda:0 is listed twice"),
            ("grid.toml --devices cuda:x", "device \"cuda:x\", expected \"cpu\" or \"cuda[:N]\""),
            ("grid.toml --devices cuda:0 --device cuda:1", "--device and --devices both given"),
        ] {
            let err = format!("{:#}", options(line).unwrap_err());
            assert!(err.contains(message), "{line}: {err}");
        }
    }

    /// Asking for help is not an error, and reads no grid.
    #[test]
    fn help_is_printed_not_refused() {
        for line in ["--help", "-h", "configs/experiments/missing.toml --dry-run --help"] {
            run(&line.split_whitespace().map(String::from).collect::<Vec<_>>())
                .unwrap_or_else(|err| panic!("{line}: {err:#}"));
        }
    }

    #[test]
    fn the_paper_grid_runs_on_the_gpu_at_full_scale() {
        let grid = shipped("cifar10-paper.toml");
        let runs = runs(&grid, Path::new("out"));
        // Per sigma: gaussian, macer, and macer-cs for each of the two matrices.
        assert_eq!(runs.len(), 2 * 4);
        let chains = chains(&grid, &runs);
        // gaussian and macer certified against both matrices, each macer-cs
        // against its own.
        assert!(chains.iter().all(|chain| chain.train.args[0] == "train"));
        let certify: Vec<String> =
            chains.iter().flat_map(|chain| &chain.certify).map(|step| step.args.join(" ")).collect();
        assert_eq!(certify.len(), 2 * (2 + 2 + 2));
        assert!(certify.iter().all(|c| c.starts_with("certify ")));
        // The GPU is part of a step's key, but not which one.
        assert!(every_step(&chains).all(|step| step.key.contains("--device cuda") && !step.key.contains("cuda:")));
        assert!(
            certify.iter().all(|c| c.contains("--n 100000") && c.contains("--skip 1") && c.contains("--data-dir "))
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

        // Another GPU makes the same steps; the CPU, others.
        let keys = |device: &str| {
            let mut other = shipped("cifar10-paper.toml");
            other.device = device.into();
            let runs = super::runs(&other, Path::new("out"));
            every_step(&super::chains(&other, &runs)).map(|step| step.key.clone()).collect::<Vec<_>>()
        };
        assert_eq!(keys("cuda:1"), keys("cuda:0"));
        assert!(keys("cpu").iter().zip(keys("cuda:0")).all(|(cpu, gpu)| *cpu != gpu));
    }

    /// Leaves a step as a stopped command would: key stored, checkpoint
    /// written, not done.
    fn start(root: &Path, step: &Step) {
        prepare(root, step, Action::Run).unwrap();
        write(&root.join(&step.checkpoint), "checkpoint").unwrap();
    }

    fn finish(root: &Path, step: &Step) {
        start(root, step);
        mark_done(root, step).unwrap();
    }

    #[test]
    fn steps_name_their_files_relative_to_the_project_root() {
        let grid = shipped("cifar10-paper.toml");
        let runs = runs(&grid, Path::new("results/cifar10-paper"));
        let chains = chains(&grid, &runs);
        let root = project_root().display().to_string();
        for step in every_step(&chains) {
            assert!(!step.key.contains(&root) && !step.args.iter().any(|arg| arg.contains(&root)), "{step:?}");
            let paths = [&step.key_path, &step.checkpoint]
                .into_iter()
                .chain(&step.outputs)
                .chain(step.input.iter().map(|(path, _)| path));
            assert!(paths.into_iter().all(|path| path.is_relative()), "{step:?}");
        }
        let config: Table = chains[0].train.input.as_ref().unwrap().1.parse().unwrap();
        assert_eq!(config["data_dir"].as_str(), Some("data/cifar10"));
        assert_eq!(config["out"].as_str(), Some("results/cifar10-paper/cifar10/sigma-0.25/gaussian/model"));

        // A grid finished in one folder is finished once moved to another.
        let dir = tempfile::tempdir().unwrap();
        let (before, after) = (dir.path().join("before"), dir.path().join("after"));
        for step in every_step(&chains) {
            finish(&before, step);
        }
        fs::rename(&before, &after).unwrap();
        let plan = plan(&after, &chains, "cpu");
        assert!(plan.iter().all(|line| line.starts_with("done    csrs ")), "{plan:#?}");
    }

    #[test]
    fn a_step_is_skipped_resumed_or_started_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let step = Step {
            args: vec!["train".into()],
            key: "a".into(),
            key_path: "run/train.key".into(),
            outputs: vec!["run/model.json".into(), "run/model.log.csv".into()],
            checkpoint: "run/model.json".into(),
            input: Some(("run/train.toml".into(), "epochs = 1".into())),
        };
        assert_eq!(decide(root, &step), Action::Run);
        prepare(root, &step, Action::Run).unwrap();
        assert_eq!(fs::read_to_string(root.join("run/train.toml")).unwrap(), "epochs = 1");
        // Stopped before its first checkpoint: nothing to resume from.
        assert_eq!(decide(root, &step), Action::Run);
        fs::write(root.join("run/model.json"), "{}").unwrap();
        fs::write(root.join("run/model.log.csv"), "epoch").unwrap();
        assert_eq!(decide(root, &step), Action::Resume);
        mark_done(root, &step).unwrap();
        assert_eq!(decide(root, &step), Action::Done);
        // Another key: the old outputs and the done mark go.
        let changed = Step { key: "b".into(), ..step };
        assert_eq!(decide(root, &changed), Action::Run);
        prepare(root, &changed, Action::Run).unwrap();
        assert!(!root.join("run/model.json").exists() && !root.join("run/model.log.csv").exists());
        assert!(!root.join("run/train.done").exists());
        assert_eq!(fs::read_to_string(root.join("run/train.key")).unwrap(), "b");
    }

    #[test]
    fn a_step_runs_in_the_project_root_and_logs_beside_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // `sh -c SCRIPT` stands for `csrs`.
        let step = |script: &str| Step {
            args: vec!["-c".into(), script.into()],
            key: script.into(),
            key_path: "run/step.key".into(),
            outputs: vec!["run/out".into()],
            checkpoint: "run/out".into(),
            input: None,
        };
        let read = |path: &str| fs::read_to_string(root.join(path)).unwrap();
        let writes = step("echo made > run/out; echo said");
        execute(Path::new("sh"), root, &writes, "cpu", Output::LogFile).unwrap();
        assert_eq!((read("run/out"), read("run/step.log")), ("made\n".into(), "said\n".into()));
        assert_eq!(decide(root, &writes), Action::Done);

        let fails = step("echo why >&2; exit 3");
        let err = execute(Path::new("sh"), root, &fails, "cpu", Output::LogFile).unwrap_err().to_string();
        assert!(err.ends_with("failed (exit status: 3; output in run/step.log)"), "{err}");
        assert_eq!(read("run/step.log"), "why\n");
        assert_eq!(decide(root, &fails), Action::Run);
    }

    /// Every file under `dir` and its text.
    fn snapshot(dir: &Path, files: &mut BTreeMap<PathBuf, String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                snapshot(&path, files);
            } else {
                files.insert(path.clone(), fs::read_to_string(&path).unwrap());
            }
        }
    }

    #[test]
    fn a_dry_run_says_what_each_step_would_do_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let grid = shipped("cs-cpu.toml");
        let runs = runs(&grid, Path::new("results/cs-cpu"));
        let chains = chains(&grid, &runs);
        let [gaussian, gaussian_cs, _, macer, ..] = chains.as_slice() else { panic!("cs-cpu has 24 runs") };
        // gaussian: trained, certified against one matrix, stopped on the other.
        finish(root, &gaussian.train);
        finish(root, &gaussian.certify[0]);
        start(root, &gaussian.certify[1]);
        // gaussian-cs-pair38: trained and certified, then its training edited.
        finish(root, &gaussian_cs.train);
        finish(root, &gaussian_cs.certify[0]);
        fs::write(root.join(&gaussian_cs.train.key_path), "an earlier configuration").unwrap();
        // macer: stopped while training.
        start(root, &macer.train);

        let mut before = BTreeMap::new();
        snapshot(root, &mut before);
        let plan = plan(root, &chains, "cpu");
        let mut after = BTreeMap::new();
        snapshot(root, &mut after);
        assert_eq!(before, after);

        let words: Vec<&str> = plan.iter().map(|line| line.split_whitespace().next().unwrap()).collect();
        // gaussian (2 matrices), gaussian-cs-pair38, gaussian-cs-seed3, macer (2 matrices).
        assert_eq!(words[..11], ["done", "done", "resume", "run", "run", "run", "run", "resume", "run", "run", "run"]);
        assert!(words[11..].iter().all(|word| *word == "run"));
        assert_eq!(plan[0], format!("done    csrs {}", gaussian.train.args.join(" ")));
        assert_eq!(plan[2], format!("resume  csrs {} --resume", gaussian.certify[1].args.join(" ")));
        assert_eq!(plan[3], format!("run     csrs {}", gaussian_cs.train.args.join(" ")));
    }

    /// Schedules `runs` chains of a training and `certifications` steps,
    /// numbered in the grid's order; every step takes a few milliseconds but
    /// `failing`, which fails at once. Returns the result, the starts and
    /// ends in order, and the most steps that ran at once.
    fn record(
        runs: usize,
        certifications: usize,
        jobs: usize,
        failing: Option<usize>,
    ) -> (anyhow::Result<()>, Vec<(&'static str, usize)>, usize) {
        let chains: Vec<Chain<usize>> = (0..runs)
            .map(|run| {
                let train = run * (certifications + 1);
                Chain { train, certify: (train + 1..=train + certifications).collect() }
            })
            .collect();
        let events = Mutex::new(Vec::new());
        let running = Mutex::new((0, 0));
        let result = schedule(&chains, NonZeroUsize::new(jobs).unwrap(), |&step: &usize| {
            events.lock().unwrap().push(("start", step));
            {
                let mut running = running.lock().unwrap();
                running.0 += 1;
                running.1 = running.1.max(running.0);
            }
            if failing != Some(step) {
                thread::sleep(Duration::from_millis(10));
            }
            running.lock().unwrap().0 -= 1;
            events.lock().unwrap().push(("end", step));
            if failing == Some(step) { Err(anyhow!("step {step} failed")) } else { Ok(()) }
        });
        (result, events.into_inner().unwrap(), running.into_inner().unwrap().1)
    }

    #[test]
    fn one_job_runs_the_steps_in_the_grid_order() {
        let (result, events, most) = record(3, 2, 1, None);
        result.unwrap();
        let expected: Vec<(&str, usize)> = (0..9).flat_map(|step| [("start", step), ("end", step)]).collect();
        assert_eq!(events, expected);
        assert_eq!(most, 1);
    }

    #[test]
    fn certifications_wait_for_their_training_and_jobs_bound_the_processes() {
        let (result, events, most) = record(4, 2, 3, None);
        result.unwrap();
        assert_eq!(events.len(), 2 * 12);
        let at = |event: (&str, usize)| events.iter().position(|e| *e == event).unwrap();
        for run in 0..4 {
            let train = run * 3;
            for certification in [train + 1, train + 2] {
                assert!(at(("start", certification)) > at(("end", train)), "{events:?}");
            }
        }
        assert!((2..=3).contains(&most), "{most} at once");
    }

    #[test]
    fn each_device_runs_one_step_at_a_time_unless_jobs_say_more() {
        let chains: Vec<Chain<usize>> = (0..6).map(|run| Chain { train: run, certify: Vec::new() }).collect();
        for (devices, jobs, per_device) in [(&["cuda:0", "cuda:1"][..], 2, 1), (&["cuda:0", "cuda:1"][..], 4, 2)] {
            let devices: Vec<String> = devices.iter().map(|d| (*d).to_owned()).collect();
            // Steps running on each device now, and the most at once.
            let running = Mutex::new(BTreeMap::<String, (usize, usize)>::new());
            let result = schedule_on(&chains, &devices, NonZeroUsize::new(jobs).unwrap(), |_, device| {
                let mut now = running.lock().unwrap();
                let (count, most) = now.entry(device.to_owned()).or_default();
                *count += 1;
                *most = (*most).max(*count);
                drop(now);
                thread::sleep(Duration::from_millis(100));
                running.lock().unwrap().get_mut(device).unwrap().0 -= 1;
                Ok(())
            });
            result.unwrap();
            let running = running.into_inner().unwrap();
            assert_eq!(running.keys().collect::<Vec<_>>(), ["cuda:0", "cuda:1"]);
            assert!(running.values().all(|&(count, most)| count == 0 && most == per_device), "{running:?}");
        }
    }

    #[test]
    fn a_failure_stops_new_steps_and_waits_for_the_running_ones() {
        let (result, events, _) = record(4, 2, 2, Some(0));
        let err = result.unwrap_err().to_string();
        assert_eq!(err, "step 0 failed");
        // The first two trainings started together; once the first failed,
        // nothing else started, and the second ran to its end.
        let mut started: Vec<usize> = events.iter().filter(|e| e.0 == "start").map(|e| e.1).collect();
        started.sort_unstable();
        assert_eq!(started, [0, 3]);
        assert!(events.contains(&("end", 3)));
    }

    #[test]
    fn the_report_has_a_table_and_a_figure_per_dataset_cost_and_sigma() {
        let grid = shipped("cs-cpu.toml");
        let out = Path::new("results/cs-cpu");
        let runs = runs(&grid, out);
        let mut calls = Vec::new();
        let report = report(Path::new("nowhere"), &grid, &runs, out, "configs/experiments/cs-cpu.toml", |args| {
            calls.push(args.to_vec());
            let records = args.iter().filter(|arg| arg.ends_with(".tsv"));
            let row = |records: &String| {
                // Base accuracies on mnist-5k only, as if its records were newer.
                let base = |value| if records.contains("mnist") { value } else { "" };
                [
                    ("records", records.as_str()),
                    ("examples", "500"),
                    ("sensitive", "99"),
                    ("clean_accuracy", "0.7450"),
                    ("clean_accuracy_low", "0.6012"),
                    ("clean_accuracy_high", "0.8634"),
                    ("base_accuracy", base("0.9000")),
                    ("base_accuracy_low", base("0.8612")),
                    ("base_accuracy_high", base("0.9311")),
                    ("certified_accuracy@0", "0.7000"),
                    ("certified_accuracy@0_low", "0.6500"),
                    ("certified_accuracy@0_high", "0.7500"),
                    ("cs_robustness@0", "0.5000"),
                    ("cs_robustness@0_low", "0.3981"),
                    ("cs_robustness@0_high", "0.6019"),
                    // As an earlier csrs wrote it: no interval.
                    ("cs_robustness@0.25", "0.4000"),
                ]
                .map(|(column, value)| (column.to_owned(), value.to_owned()))
                .to_vec()
            };
            Ok(records.map(row).collect())
        })
        .unwrap();

        // One `csrs analyze` per dataset, cost matrix and sigma, with its figure
        // and one curve per method, named as the rows are.
        assert_eq!(calls.len(), 2 * 2 * 2);
        let first = calls[0].join(" ");
        let plot = "--plot results/cs-cpu/figures/digits-pair38-sigma0.25.svg";
        let labels = "--label gaussian --label gaussian-cs --label macer --label macer-cs";
        assert!(first.contains(&format!("{plot} {labels} results/cs-cpu/digits/sigma-0.25/gaussian/")), "{first}");
        assert!(first.ends_with("macer-cs-pair38/certify-pair38.tsv"), "{first}");

        assert_eq!(report.matches("\n| method | clean acc. | cert. acc. 0 |").count(), 4);
        assert_eq!(report.matches("\n| method | clean acc. | base acc. | cert. acc. 0 |").count(), 4);
        assert!(report.contains("| 0.7450 [0.60, 0.86] | 0.9000 [0.86, 0.93] | 0.7000 | "), "{report}");
        let brackets = report.find("Brackets are 95% Clopper–Pearson intervals").unwrap();
        assert!(brackets < report.find("| method").unwrap());
        let row = "| macer-cs | 0.7450 [0.60, 0.86] | 0.7000 | ";
        assert!(report.contains(row), "{report}");
        assert!(report.contains("| 0.5000 [0.40, 0.60] | 0.4000 | "), "{report}");
        let link = "\n![digits, pair38, σ = 0.25](figures/digits-pair38-sigma0.25.svg)\n";
        assert!(report.contains(link), "{report}");
        assert_eq!(report.matches("](figures/").count(), 8);
    }
}
