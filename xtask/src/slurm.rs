//! `cargo xtask slurm certify`: a certification configuration as a Slurm
//! job array, one shard per task, and a merge job that waits for them.
//!
//! Nothing here schedules: the scripts are plain `sbatch` files, and each
//! task is `csrs certify --shard auto --shards K --resume`, which reads its
//! shard from `SLURM_ARRAY_TASK_ID`. A task that finished copies the run's
//! key (the command and the configuration's text) to `shard-I.done`, so the
//! next `cargo xtask slurm certify` knows which shards are finished and puts
//! only the others in the array; a stopped task resumes from its records.
//! The merge job checks every shard's mark and writes the configuration's
//! `out`: the same records as one unsharded run.
//!
//! Everything goes to `<out>.shards/`: `certify.sbatch`, `merge.sbatch`,
//! `submit.sh`, `run.key`, the shards' records and `logs/`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow, bail};
use csrs_artifacts::with_suffix;
use toml::Table;

use crate::experiment::write;
use crate::{asks_for_help, cargo, project_root};

const USAGE: &str = "\
usage: cargo xtask slurm certify --config FILE --shards K [--gpus-per-task 0|1]
                                 [--cpus-per-task C] [--sbatch OPTION]... [--submit]";

/// The command line of `cargo xtask slurm certify`.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    /// The `csrs certify` configuration, relative to the project root.
    config: String,
    shards: usize,
    /// 0 (the CPU) or 1: a `csrs certify` process runs on one device.
    gpus_per_task: usize,
    cpus_per_task: Option<usize>,
    /// Further `#SBATCH` options of both jobs (`--partition=gpu`).
    sbatch: Vec<String>,
    submit: bool,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut args = args.iter();
    if args.next().map(String::as_str) != Some("certify") {
        bail!("{USAGE}");
    }
    let mut config = None;
    let mut shards = None;
    let mut gpus_per_task = 0;
    let mut cpus_per_task = None;
    let mut sbatch = Vec::new();
    let mut submit = false;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow!("{arg} needs a value\n{USAGE}"));
        let mut count = |what: &str| -> anyhow::Result<usize> {
            let text = value()?;
            text.parse().map_err(|_| anyhow!("{arg} needs a whole number of {what}, got {text:?}"))
        };
        match arg.as_str() {
            "--config" => config = Some(value()?.clone()),
            "--shards" => shards = Some(count("shards")?),
            "--gpus-per-task" => gpus_per_task = count("GPUs")?,
            "--cpus-per-task" => cpus_per_task = Some(count("CPUs")?),
            "--sbatch" => sbatch.push(value()?.clone()),
            "--submit" => submit = true,
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    let config = config.ok_or_else(|| anyhow!("--config is required\n{USAGE}"))?;
    let shards = shards.ok_or_else(|| anyhow!("--shards is required\n{USAGE}"))?;
    if shards == 0 {
        bail!("--shards is 0, expected at least 1");
    }
    if gpus_per_task > 1 {
        bail!(
            "--gpus-per-task {gpus_per_task}: a csrs certify process runs on one GPU; give each task one and use more --shards"
        );
    }
    if cpus_per_task == Some(0) {
        bail!("--cpus-per-task is 0, expected at least 1");
    }
    Ok(Options { config, shards, gpus_per_task, cpus_per_task, sbatch, submit })
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if asks_for_help(args) {
        println!("{USAGE}");
        return Ok(());
    }
    let options = options(args)?;
    let root = project_root();
    let config_path = root.join(&options.config);
    let config_text =
        fs::read_to_string(&config_path).with_context(|| format!("cannot read {}", config_path.display()))?;
    let job = Job::new(&options, &config_text)?;
    let state = job.state(&root)?;
    let submit = root.join(&job.dir).join("submit.sh");
    if state == State::Merged {
        if submit.exists() {
            fs::remove_file(&submit).with_context(|| format!("cannot remove {}", submit.display()))?;
        }
        println!("{} holds every shard, merged: nothing to submit", job.out.display());
        return Ok(());
    }
    let features: &[&str] = if options.gpus_per_task > 0 { &["--features", "cuda"] } else { &[] };
    cargo(&[&["build", "--release", "--package", "csrs-cli"], features].concat())?;
    let csrs = root.join("target/release/csrs");
    let scripts = Scripts { job: &job, root: &root, csrs: &csrs };
    let dir = root.join(&job.dir);
    write(&dir.join(KEY), &job.key)?;
    fs::create_dir_all(dir.join("logs")).with_context(|| format!("cannot create {}", dir.display()))?;
    if let State::Unfinished(shards) = &state {
        write(&dir.join("certify.sbatch"), &scripts.certify(shards))?;
    }
    write(&dir.join("merge.sbatch"), &scripts.merge())?;
    write(&submit, &scripts.submit(&state))?;
    match &state {
        State::Unfinished(shards) => {
            println!(
                "shards {} of {} to run, then the merge into {}",
                list(shards),
                job.options.shards,
                job.out.display()
            )
        }
        _ => println!("every shard is finished: the merge into {} remains", job.out.display()),
    }
    if options.submit {
        let status = Command::new("bash").arg(&submit).current_dir(&root).status().context("cannot run bash")?;
        if !status.success() {
            bail!("{} failed ({status})", submit.display());
        }
    } else {
        println!("submit with: bash {}", job.dir.join("submit.sh").display());
    }
    Ok(())
}

/// The file in a job's folder holding what its shards are made from.
const KEY: &str = "run.key";

/// A sharded certification: its paths relative to the project root.
#[derive(Debug)]
struct Job {
    options: Options,
    /// The merged records: the configuration's `out`.
    out: PathBuf,
    /// `<out>.shards`
    dir: PathBuf,
    /// The records' extension, with its dot.
    extension: String,
    /// The options every task adds to the configuration's, but the shard's
    /// `--out`.
    args: Vec<String>,
    /// The command and the configuration's text: a shard marked done with
    /// another key was made by another run.
    key: String,
}

/// What the shards of a job need.
#[derive(Debug, PartialEq, Eq)]
enum State {
    /// These shards have not finished (in order).
    Unfinished(Vec<usize>),
    /// Every shard finished; the merged records are not written.
    Finished,
    /// The merged records are written.
    Merged,
}

impl Job {
    fn new(options: &Options, config_text: &str) -> anyhow::Result<Job> {
        let config: Table = config_text
            .parse()
            .map_err(|err: toml::de::Error| anyhow!("{}: {}", options.config, err.message().trim()))?;
        if config.contains_key("shard") {
            bail!("{}: sets shard; the Slurm array gives each task its shard", options.config);
        }
        let out = config
            .get("out")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| anyhow!("{}: no `out` (the merged records' path)", options.config))?;
        let out = PathBuf::from(out);
        let extension = match out.extension().and_then(|e| e.to_str()) {
            Some(e @ ("tsv" | "jsonl")) => format!(".{e}"),
            _ => bail!("{}: out is {}, expected a .tsv or .jsonl file", options.config, out.display()),
        };
        let dir = with_suffix(&out, ".shards");
        let mut args = vec![
            "certify".to_owned(),
            "--config".to_owned(),
            options.config.clone(),
            "--shard".to_owned(),
            "auto".to_owned(),
            "--shards".to_owned(),
            options.shards.to_string(),
            "--resume".to_owned(),
        ];
        if options.gpus_per_task > 0 {
            // Slurm shows each task its GPU as the first.
            args.extend(["--device".to_owned(), "cuda:0".to_owned()]);
        }
        let key = format!("csrs {} --out {}\n\n{config_text}", args.join(" "), dir.join(shard_name("I")).display());
        Ok(Job { options: options.clone(), out, dir, extension, args, key })
    }

    /// Which shards are finished, from their marks. A mark of another key
    /// is refused: the folder holds the shards of another run.
    fn state(&self, root: &Path) -> anyhow::Result<State> {
        let key_path = root.join(&self.dir).join(KEY);
        if let Ok(stored) = fs::read_to_string(&key_path)
            && stored != self.key
        {
            bail!(
                "{} holds the shards of another run (its {KEY} differs: the configuration or the options changed); remove it, or give the configuration another out",
                self.dir.display()
            );
        }
        let unfinished: Vec<usize> = (0..self.options.shards)
            .filter(|&shard| fs::read_to_string(root.join(self.done(shard))).ok().as_deref() != Some(&self.key))
            .collect();
        let merged = root.join(&self.out).exists();
        match (unfinished.is_empty(), merged) {
            (true, true) => Ok(State::Merged),
            (true, false) => Ok(State::Finished),
            (false, false) => Ok(State::Unfinished(unfinished)),
            (false, true) => bail!(
                "{} exists, but shards {} of {} are not finished; remove it to merge the shards again",
                self.out.display(),
                list(&unfinished),
                self.options.shards
            ),
        }
    }

    fn records(&self, shard: usize) -> PathBuf {
        self.dir.join(shard_name(&shard.to_string()) + &self.extension)
    }

    fn done(&self, shard: usize) -> PathBuf {
        self.dir.join(shard_name(&shard.to_string()) + DONE)
    }
}

/// The name of a shard's files without their suffix: `shard` is a number,
/// or a shell word in the scripts.
fn shard_name(shard: &str) -> String {
    format!("shard-{shard}")
}

/// The suffix of a shard's mark: it finished.
const DONE: &str = ".done";

/// The shards as Slurm's `--array` takes them: `0,2,3`.
fn list(shards: &[usize]) -> String {
    shards.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// The scripts of a job, for a checkout at `root` and its `csrs` binary.
struct Scripts<'a> {
    job: &'a Job,
    root: &'a Path,
    csrs: &'a Path,
}

impl Scripts<'_> {
    /// The `#SBATCH` lines shared by both jobs, and a `cd` to the project.
    fn header(&self, name: &str, log: &str, extra: &[String]) -> String {
        let job = self.job;
        // sbatch reads its own words from `#SBATCH` lines: the name keeps
        // only plain characters, and the log path is relative to the folder
        // submit.sh submits from (the job's working directory).
        let stem = Path::new(&job.options.config).file_stem().and_then(|s| s.to_str()).unwrap_or("run");
        let stem: String = stem.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
        let mut text = format!(
            "#!/bin/bash\n# Written by `cargo xtask slurm certify --config {} --shards {}`; submit with submit.sh beside it.\n",
            job.options.config, job.options.shards
        );
        let mut lines = vec![
            format!("--job-name=csrs-{name}-{stem}"),
            format!("--output=logs/{log}"),
            "--open-mode=append".to_owned(),
        ];
        lines.extend_from_slice(extra);
        lines.extend(job.options.sbatch.iter().cloned());
        for line in lines {
            writeln!(text, "#SBATCH {line}").expect("a String takes any text");
        }
        writeln!(text, "set -euo pipefail\ncd {}", quote(&self.root.display().to_string())).expect("a String");
        text
    }

    /// The job array: one task per unfinished shard, which resumes the
    /// shard's records and marks it done.
    fn certify(&self, shards: &[usize]) -> String {
        let job = self.job;
        let mut extra = vec![format!("--array={}", list(shards)), "--ntasks=1".to_owned()];
        if let Some(cpus) = job.options.cpus_per_task {
            extra.push(format!("--cpus-per-task={cpus}"));
        }
        if job.options.gpus_per_task > 0 {
            extra.push(format!("--gpus-per-task={}", job.options.gpus_per_task));
        }
        let mut text = self.header("certify", "certify-%a.log", &extra);
        let args: Vec<String> = job.args.iter().map(|arg| quote(arg)).collect();
        writeln!(
            text,
            "shard={}/{}\n{} {} --out \"$shard{}\"\ncp {} \"$shard{DONE}\"",
            quote(&job.dir.display().to_string()),
            shard_name("\"$SLURM_ARRAY_TASK_ID\""),
            quote(&self.csrs.display().to_string()),
            args.join(" "),
            job.extension,
            quote(&job.dir.join(KEY).display().to_string()),
        )
        .expect("a String takes any text");
        text
    }

    /// The merge job: every shard must be marked done with this key.
    fn merge(&self) -> String {
        let job = self.job;
        let mut text = self.header("merge", "merge.log", &["--ntasks=1".to_owned()]);
        let key = quote(&job.dir.join(KEY).display().to_string());
        writeln!(
            text,
            "for shard in $(seq 0 {last}); do\n  cmp -s {key} {dir}/{name}{DONE} || {{ echo \"shard $shard of {k} is not finished: run cargo xtask slurm certify again\" >&2; exit 1; }}\ndone",
            last = job.options.shards - 1,
            dir = quote(&job.dir.display().to_string()),
            name = shard_name("$shard"),
            k = job.options.shards,
        )
        .expect("a String takes any text");
        let records: Vec<String> =
            (0..job.options.shards).map(|shard| quote(&job.records(shard).display().to_string())).collect();
        writeln!(
            text,
            "{} merge --out {} {}",
            quote(&self.csrs.display().to_string()),
            quote(&job.out.display().to_string()),
            records.join(" ")
        )
        .expect("a String takes any text");
        text
    }

    /// Submits the array (when shards remain) and the merge job after it,
    /// unless the jobs of the last submission are still queued (two tasks
    /// would then write one shard); `submitted` keeps their ids.
    fn submit(&self, state: &State) -> String {
        let job = self.job;
        let dir = quote(&self.root.join(&job.dir).display().to_string());
        let out = quote(&job.out.display().to_string());
        let mut text = format!(
            "#!/bin/bash\nset -euo pipefail\ncd {dir}\n\
             if [ -s submitted ] && [ -n \"$(squeue -h -j \"$(cat submitted)\" 2>/dev/null)\" ]; then\n  \
             echo \"jobs $(cat submitted) of the last submission are still queued: wait for them, or scancel them\" >&2\n  \
             exit 1\nfi\n"
        );
        match state {
            State::Unfinished(shards) => writeln!(
                text,
                "certify=$(sbatch --parsable certify.sbatch)\ncertify=${{certify%%;*}}\necho \"shards {} of {}: job array $certify\"\nmerge=$(sbatch --parsable --dependency=afterok:$certify --kill-on-invalid-dep=yes merge.sbatch)\nmerge=${{merge%%;*}}\necho \"$certify,$merge\" > submitted\necho \"merge into \"{out}\": job $merge, after $certify\"",
                list(shards),
                job.options.shards,
            ),
            _ => writeln!(
                text,
                "merge=$(sbatch --parsable merge.sbatch)\nmerge=${{merge%%;*}}\necho \"$merge\" > submitted\necho \"merge into \"{out}\": job $merge\""
            ),
        }
        .expect("a String takes any text");
        text
    }
}

/// `text` as one shell word.
fn quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "model = \"models/m\"\ndataset = \"digits\"\nsigma = 0.25\nout = \"results/run.tsv\"\n";

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn job(shards: usize, gpus: usize) -> Job {
        let options = Options {
            config: "configs/certify/run.toml".into(),
            shards,
            gpus_per_task: gpus,
            cpus_per_task: Some(2),
            sbatch: vec!["--partition=short".into()],
            submit: false,
        };
        Job::new(&options, CONFIG).unwrap()
    }

    #[test]
    fn options_are_read_and_impossible_ones_refused() {
        let read =
            options(&args("certify --config c.toml --shards 4 --gpus-per-task 1 --sbatch --time=1:00:00")).unwrap();
        assert_eq!((read.config.as_str(), read.shards, read.gpus_per_task), ("c.toml", 4, 1));
        assert_eq!(read.sbatch, ["--time=1:00:00"]);
        for (line, message) in [
            ("train --config c.toml", "usage: cargo xtask slurm certify"),
            ("certify --shards 4", "--config is required"),
            ("certify --config c.toml", "--shards is required"),
            ("certify --config c.toml --shards 0", "--shards is 0"),
            ("certify --config c.toml --shards x", "--shards needs a whole number of shards, got \"x\""),
            ("certify --config c.toml --shards 2 --gpus-per-task 2", "runs on one GPU"),
            ("certify --config c.toml --shards 2 --cpus-per-task 0", "--cpus-per-task is 0"),
            ("certify --config c.toml --shards 2 --nodes 2", "unknown option --nodes"),
        ] {
            let err = options(&args(line)).unwrap_err().to_string();
            assert!(err.contains(message), "{line}: {err}");
        }
    }

    /// Asking for help is not an error, and reads nothing.
    #[test]
    fn help_is_printed_not_refused() {
        for line in ["--help", "-h", "certify --help", "certify --config c.toml -h"] {
            run(&args(line)).unwrap_or_else(|err| panic!("{line}: {err:#}"));
        }
    }

    #[test]
    fn a_configuration_without_a_mergeable_out_or_with_a_shard_is_refused() {
        let options = options(&args("certify --config run.toml --shards 2")).unwrap();
        for (config, message) in [
            ("sigma = 0.25\n", "run.toml: no `out`"),
            ("out = \"r.csv\"\n", "out is r.csv, expected a .tsv or .jsonl file"),
            ("out = \"r.tsv\"\nshard = \"0/2\"\n", "sets shard"),
            ("out = ", "run.toml: "),
        ] {
            let err = Job::new(&options, config).unwrap_err().to_string();
            assert!(err.contains(message), "{config}: {err}");
        }
    }

    #[test]
    fn the_marks_of_the_shards_say_what_remains() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let job = job(4, 0);
        assert_eq!(job.state(root).unwrap(), State::Unfinished(vec![0, 1, 2, 3]));
        write(&root.join(&job.dir).join(KEY), &job.key).unwrap();
        write(&root.join(job.done(1)), &job.key).unwrap();
        write(&root.join(job.done(3)), &job.key).unwrap();
        // A mark of another key is not this run's.
        write(&root.join(job.done(2)), "csrs certify --n 10").unwrap();
        assert_eq!(job.state(root).unwrap(), State::Unfinished(vec![0, 2]));
        write(&root.join(job.done(0)), &job.key).unwrap();
        write(&root.join(job.done(2)), &job.key).unwrap();
        assert_eq!(job.state(root).unwrap(), State::Finished);
        write(&root.join(&job.out), "").unwrap();
        assert_eq!(job.state(root).unwrap(), State::Merged);

        fs::remove_file(root.join(job.done(2))).unwrap();
        let err = job.state(root).unwrap_err().to_string();
        assert!(err.contains("results/run.tsv exists, but shards 2 of 4 are not finished"), "{err}");
        // Another configuration (or number of shards) in the same folder.
        let err = self::job(3, 0).state(root).unwrap_err().to_string();
        assert!(err.contains("results/run.tsv.shards holds the shards of another run"), "{err}");
    }

    /// Writes an executable shell script.
    fn script(path: &Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn bash(script: &Path, vars: &[(&str, &str)]) -> std::process::Output {
        Command::new("bash").arg(script).envs(vars.iter().copied()).output().unwrap()
    }

    /// The scripts run as Slurm would run them, with a `csrs` and an
    /// `sbatch` that record their arguments, in a project whose path needs
    /// quoting.
    #[test]
    fn the_scripts_run_the_shards_mark_them_and_merge_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a project's folder");
        let calls = root.join("calls");
        let csrs = root.join("bin/csrs");
        script(&csrs, &format!("#!/bin/bash\necho \"csrs $*\" >> {}\n", quote(&calls.display().to_string())));
        let job = job(3, 1);
        let scripts = Scripts { job: &job, root: &root, csrs: &csrs };
        let folder = root.join(&job.dir);
        write(&folder.join(KEY), &job.key).unwrap();

        let certify = scripts.certify(&[0, 2]);
        for line in [
            "#SBATCH --array=0,2",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --partition=short",
            "#SBATCH --output=logs/certify-%a.log",
            "#SBATCH --job-name=csrs-certify-run",
        ] {
            assert!(certify.lines().any(|l| l == line), "{line} in\n{certify}");
        }
        script(&folder.join("certify.sbatch"), &certify);
        for task in ["0", "2"] {
            let output = bash(&folder.join("certify.sbatch"), &[("SLURM_ARRAY_TASK_ID", task)]);
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        }
        let run = |shard| {
            format!(
                "csrs certify --config configs/certify/run.toml --shard auto --shards 3 --resume --device cuda:0 --out results/run.tsv.shards/shard-{shard}.tsv"
            )
        };
        assert_eq!(fs::read_to_string(&calls).unwrap(), format!("{}\n{}\n", run(0), run(2)));
        assert_eq!(job.state(&root).unwrap(), State::Unfinished(vec![1]));

        // The merge job refuses while a shard is unfinished.
        script(&folder.join("merge.sbatch"), &scripts.merge());
        let output = bash(&folder.join("merge.sbatch"), &[]);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("shard 1 of 3 is not finished"));
        bash(&folder.join("certify.sbatch"), &[("SLURM_ARRAY_TASK_ID", "1")]);
        assert_eq!(job.state(&root).unwrap(), State::Finished);
        fs::remove_file(&calls).unwrap();
        assert!(bash(&folder.join("merge.sbatch"), &[]).status.success());
        let shards =
            "results/run.tsv.shards/shard-0.tsv results/run.tsv.shards/shard-1.tsv results/run.tsv.shards/shard-2.tsv";
        assert_eq!(fs::read_to_string(&calls).unwrap(), format!("csrs merge --out results/run.tsv {shards}\n"));

        // submit.sh puts the merge after the array, with the array's id.
        let sbatch = root.join("bin/sbatch");
        script(
            &sbatch,
            &format!(
                "#!/bin/bash\necho \"sbatch $*\" >> {}\necho \"17;cluster\"\n",
                quote(&calls.display().to_string())
            ),
        );
        fs::remove_file(&calls).unwrap();
        script(&folder.join("submit.sh"), &scripts.submit(&State::Unfinished(vec![1])));
        let path = format!("{}:{}", root.join("bin").display(), std::env::var("PATH").unwrap());
        let output = bash(&folder.join("submit.sh"), &[("PATH", &path)]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(
            fs::read_to_string(&calls).unwrap(),
            "sbatch --parsable certify.sbatch\nsbatch --parsable --dependency=afterok:17 --kill-on-invalid-dep=yes merge.sbatch\n"
        );
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains("shards 1 of 3: job array 17") && said.contains("merge into results/run.tsv: job 17"));
        assert_eq!(fs::read_to_string(folder.join("submitted")).unwrap(), "17,17\n");
        // While those jobs are queued, a second submission is refused.
        let squeue = root.join("bin/squeue");
        script(&squeue, "#!/bin/bash\necho \"17_1 R\"\n");
        let output = bash(&folder.join("submit.sh"), &[("PATH", &path)]);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("jobs 17,17 of the last submission are still queued"));
    }

    #[test]
    fn words_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(quote("results/run.tsv"), "results/run.tsv");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
