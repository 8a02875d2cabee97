//! The steps of a grid: one `csrs train` per run and one `csrs certify` per
//! run and cost matrix, each with the key that says what its outputs are
//! made from. From its key and its files a step is judged done, to resume,
//! or to run from scratch, and made ready for its command; a dry run lists
//! these judgements without acting on them.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use toml::Value;

use super::grid::{Grid, Run, train_config};
use super::{device_kind, write};

/// One `csrs` command of the grid, and the files that say whether it has to
/// run. Every path is relative to the project root, where the command runs,
/// so that nothing in a key depends on where the checkout is.
#[derive(Debug)]
pub(super) struct Step {
    /// The `csrs` arguments.
    pub(super) args: Vec<String>,
    /// What the outputs are made from: a step whose key changed runs again.
    pub(super) key: String,
    /// Where the key is stored; `.done` beside it marks a finished step, and
    /// `.log` holds its output when steps run in parallel.
    pub(super) key_path: PathBuf,
    /// What a step that starts from scratch removes first: its outputs, and
    /// for a training its certifications', which a new model invalidates.
    pub(super) outputs: Vec<PathBuf>,
    /// What a stopped step resumes from (`--resume`).
    pub(super) checkpoint: PathBuf,
    /// A file the command reads, written before it runs, and its text.
    pub(super) input: Option<(PathBuf, String)>,
}

impl Step {
    fn done_path(&self) -> PathBuf {
        self.key_path.with_extension("done")
    }

    pub(super) fn log_path(&self) -> PathBuf {
        self.key_path.with_extension("log")
    }
}

/// A run's steps: its training, then its certifications, which read the
/// model it writes; and the chain (by index) whose training must end before
/// this one's starts (a denoiser's, in front of that chain's model).
pub(super) struct Chain<S> {
    pub(super) train: S,
    pub(super) certify: Vec<S>,
    pub(super) after: Option<usize>,
}

/// One chain per run, in the runs' order.
pub(super) fn chains(grid: &Grid, runs: &[Run<'_>]) -> Vec<Chain<Step>> {
    runs.iter()
        .map(|run| {
            let classifier = run.classifier.map(|i| &runs[i]);
            let certify: Vec<Step> =
                certified_costs(run).map(|(cost, file)| certify_step(grid, run, classifier, cost, file)).collect();
            Chain { train: train_step(grid, run, classifier, &certify), certify, after: run.classifier }
        })
        .collect()
}

/// The `csrs train` step of a run, whose outputs include everything its
/// certifications (`certify`) leave. A denoiser's key holds its
/// classifier's configuration too: another classifier, another denoiser.
fn train_step(grid: &Grid, run: &Run<'_>, classifier: Option<&Run<'_>>, certify: &[Step]) -> Step {
    let config = train_config(grid, run, classifier);
    let trained_for = classifier.map_or(String::new(), |classifier| train_config(grid, classifier, None));
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
        key: format!("{config}{trained_for}{}", device_args(device_kind(&grid.device)).join(" ")),
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

/// The `csrs certify` step of a run against one cost matrix (a denoiser's
/// in front of its classifier's model); its key is its command line.
fn certify_step(grid: &Grid, run: &Run<'_>, classifier: Option<&Run<'_>>, cost: &str, cost_file: &str) -> Step {
    let certification = run.certification(cost);
    let records = certification.records();
    let model = |run: &Run<'_>| run.model().stem().display().to_string();
    let mut args: Vec<String> = match classifier {
        Some(classifier) => {
            vec!["certify".into(), "--model".into(), model(classifier), "--denoiser".into(), model(run)]
        }
        None => vec!["certify".into(), "--model".into(), model(run)],
    };
    args.extend::<[String; 10]>([
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
    ]);
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
pub(super) enum Action {
    /// Finished with the same key: skipped.
    Done,
    /// Started with the same key, and has a checkpoint: continues from it.
    Resume,
    /// New, changed, or started without a checkpoint: from scratch.
    Run,
}

impl Action {
    pub(super) fn word(self) -> &'static str {
        match self {
            Action::Done => "done",
            Action::Resume => "resume",
            Action::Run => "run",
        }
    }
}

/// Only reads, so that a dry run can ask too; [`prepare`] acts on the answer.
pub(super) fn decide(root: &Path, step: &Step) -> Action {
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
pub(super) fn prepare(root: &Path, step: &Step, action: Action) -> anyhow::Result<()> {
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

pub(super) fn mark_done(root: &Path, step: &Step) -> anyhow::Result<()> {
    write(&root.join(step.done_path()), &step.key)
}

/// The `csrs` arguments of a step about to do `action` on `device`.
pub(super) fn command_args(step: &Step, action: Action, device: &str) -> Vec<String> {
    let mut args = step.args.clone();
    args.extend(device_args(device));
    if action == Action::Resume {
        args.push("--resume".to_owned());
    }
    args
}

pub(super) fn command_line(step: &Step, action: Action, device: &str) -> String {
    format!("csrs {}", command_args(step, action, device).join(" "))
}

/// `word` and the command, aligned for a column of them.
pub(super) fn status_line(word: &str, step: &Step, action: Action, device: &str) -> String {
    format!("{word:<7} {}", command_line(step, action, device))
}

/// What running the grid on a `device` would do, one line per step in
/// order: `done`, `resume` or `run`, and the command.
pub(super) fn plan(root: &Path, chains: &[Chain<Step>], device: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut trains = Vec::with_capacity(chains.len());
    for chain in chains {
        // A classifier trained again makes its denoisers' trainings stale.
        let retrained = chain.after.is_some_and(|i| trains.get(i) == Some(&Action::Run));
        let train = if retrained { Action::Run } else { decide(root, &chain.train) };
        trains.push(train);
        lines.push(status_line(train.word(), &chain.train, train, device));
        for step in &chain.certify {
            // Training from scratch removes the certifications.
            let action = if train == Action::Run { Action::Run } else { decide(root, step) };
            lines.push(status_line(action.word(), step, action, device));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use toml::Table;

    use super::*;
    use crate::experiment::grid::{runs, shipped};
    use crate::project_root;

    fn every_step(chains: &[Chain<Step>]) -> impl Iterator<Item = &Step> {
        chains.iter().flat_map(|chain| std::iter::once(&chain.train).chain(&chain.certify))
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
            let config: Table = train_config(&grid, run, None).parse().unwrap();
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
            let runs = crate::experiment::grid::runs(&other, Path::new("out"));
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
}
