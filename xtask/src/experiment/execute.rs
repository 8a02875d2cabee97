//! Running the steps of a grid: one `csrs` process per step, in the project
//! root, its output on this terminal or in the step's log; and the schedule
//! that runs up to `--jobs` of them at once over the devices, each
//! certification after its training, stopping at the first failure.

use std::collections::BTreeSet;
use std::fs::File;
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, mpsc};
use std::thread;

use anyhow::{Context, anyhow, bail};

use super::steps::{Action, Chain, Step, command_args, command_line, decide, mark_done, prepare, status_line};

/// Where the output of a step's `csrs` process goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// This terminal's: steps run one at a time.
    Inherited,
    /// The step's log file, since the outputs of parallel steps would
    /// interleave.
    LogFile,
}

/// Runs one step on `device` unless it is done, in the project root, and
/// marks it done when its command succeeds; a line says when it starts and
/// when it ends.
pub(super) fn execute(csrs: &Path, root: &Path, step: &Step, device: &str, output: Output) -> anyhow::Result<()> {
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
pub(super) fn schedule_on<S: Sync>(
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
/// certifications once its training succeeded, a chain that comes after
/// another once that one's training succeeded, and otherwise in the grid's
/// order (so one job runs the steps as listed). After a failure no step
/// starts; the running ones finish, and the error names the failed steps.
fn schedule<S: Sync>(
    chains: &[Chain<S>],
    jobs: NonZeroUsize,
    execute: impl Fn(&S) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    // Every step in order, with the steps its success makes ready.
    let mut steps: Vec<(&S, Vec<usize>)> = Vec::new();
    let mut trains = Vec::with_capacity(chains.len());
    for chain in chains {
        let train = steps.len();
        trains.push(train);
        steps.push((&chain.train, (train + 1..train + 1 + chain.certify.len()).collect()));
        steps.extend(chain.certify.iter().map(|step| (step, Vec::new())));
    }
    let mut ready = BTreeSet::new();
    for (chain, &train) in chains.iter().zip(&trains) {
        match chain.after {
            Some(before) => steps[trains[before]].1.push(train),
            None => {
                ready.insert(train);
            }
        }
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
                Ok(()) => ready.extend(steps[step].1.iter().copied()),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::time::Duration;

    use super::*;

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
        record_after(runs, certifications, jobs, failing, |_| None)
    }

    /// [`record`], each chain after the chain `after` says.
    fn record_after(
        runs: usize,
        certifications: usize,
        jobs: usize,
        failing: Option<usize>,
        after: impl Fn(usize) -> Option<usize>,
    ) -> (anyhow::Result<()>, Vec<(&'static str, usize)>, usize) {
        let chains: Vec<Chain<usize>> = (0..runs)
            .map(|run| {
                let train = run * (certifications + 1);
                Chain { train, certify: (train + 1..=train + certifications).collect(), after: after(run) }
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

    /// A denoiser's chain comes before its classifier's in the grid, and
    /// starts only once the classifier is trained, however many jobs run.
    #[test]
    fn a_chain_after_another_waits_for_its_training() {
        for jobs in [1, 3] {
            // Chains 0 and 1 come after chain 2.
            let (result, events, _) = record_after(3, 1, jobs, None, |run| (run < 2).then_some(2));
            result.unwrap();
            let at = |event: (&str, usize)| events.iter().position(|e| *e == event).unwrap();
            for train in [0, 2] {
                assert!(at(("start", train)) > at(("end", 4)), "{jobs} jobs: {events:?}");
            }
            assert_eq!(events.len(), 2 * 6);
        }
    }

    #[test]
    fn each_device_runs_one_step_at_a_time_unless_jobs_say_more() {
        let chains: Vec<Chain<usize>> =
            (0..6).map(|run| Chain { train: run, certify: Vec::new(), after: None }).collect();
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
}
