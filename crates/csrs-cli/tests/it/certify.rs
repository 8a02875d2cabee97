//! `csrs model init`, `certify`, `predict` and `merge` end to end on digits:
//! resuming after a kill, and shards, give the records of one whole run.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{csrs, repo_root};

/// Creates an untrained digits model in `dir` and returns its path.
fn model(dir: &Path) -> String {
    let run = csrs(dir, &["model", "init", "--arch", "digits-cnn", "--dataset", "digits", "--out", "m/digits"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    "m/digits".to_owned()
}

fn cost_file() -> String {
    repo_root().join("configs/costs/digits-3-to-8.toml").display().to_string()
}

/// The arguments of a small certification run.
fn certify_args<'a>(model: &'a str, cost: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "certify",
        "--model",
        model,
        "--dataset",
        "digits",
        "--cost",
        cost,
        "--sigma",
        "0.25",
        "--n0",
        "50",
        "--n",
        "300",
        "--max",
        "24",
        "--seed",
        "5",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"--batch") {
        args.extend(["--batch", "200"]);
    }
    args
}

/// A record file without its `seconds` column, the only one that differs
/// between runs.
fn without_seconds(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|line| line.rsplit_once('\t').unwrap().0.to_owned()).collect()
}

/// Starts `csrs args` in `dir` and returns once `out` has `lines` lines.
fn spawn_until(dir: &Path, args: &[&str], out: &str, lines: usize) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_csrs"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(dir.join(out)).map_or(0, |t| t.lines().count()) < lines {
        assert!(start.elapsed() < Duration::from_secs(60), "the run wrote nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn certify_writes_one_record_per_example_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let cost = cost_file();
    let run = csrs(dir.path(), &certify_args(&model, &cost, "r.tsv", &[]), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("summary: 24 examples; certified accuracy at radius 0, 0.25"), "{}", run.stdout);
    assert!(run.stdout.contains("certified cost-sensitive robustness ("), "{}", run.stdout);
    let lines = without_seconds(&dir.path().join("r.tsv"));
    assert_eq!(lines.len(), 25);
    let columns = "index\tlabel\tbase_predicted\tpredicted\tabstain\tp_lower\tradius_std\tradius_cs\tcertified_cost";
    assert!(lines[0].starts_with(columns), "{}", lines[0]);
    assert!(dir.path().join("r.tsv.config.toml").exists());

    // The same run as JSONL holds the same certificates.
    let run = csrs(dir.path(), &certify_args(&model, &cost, "r.jsonl", &[]), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let jsonl = std::fs::read_to_string(dir.path().join("r.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    let tsv_first: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(first["index"], 0);
    let p_lower = lines[0].split('\t').position(|c| c == "p_lower").unwrap();
    assert_eq!(first["p_lower"].to_string(), tsv_first[p_lower]);

    // A second run into the same file is refused; nothing is lost.
    let before = std::fs::read_to_string(dir.path().join("r.tsv")).unwrap();
    let run = csrs(dir.path(), &certify_args(&model, &cost, "r.tsv", &[]), "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("r.tsv already exists: pass --resume"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("r.tsv")).unwrap(), before);
}

#[test]
fn a_killed_run_resumes_to_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let cost = cost_file();
    let whole = csrs(dir.path(), &certify_args(&model, &cost, "whole.tsv", &[]), "");
    assert_eq!(whole.code, Some(0), "{}", whole.stderr);

    // Start the same run, kill it once a few records are written.
    let mut child = spawn_until(dir.path(), &certify_args(&model, &cost, "killed.tsv", &[]), "killed.tsv", 6);
    let killed = dir.path().join("killed.tsv");
    child.kill().unwrap();
    child.wait().unwrap();
    // A half-written last line, as a kill during a write would leave.
    let mut text = std::fs::read_to_string(&killed).unwrap();
    let partial_from = text.len();
    text.push_str("7\t3\t3\tfal");
    std::fs::write(&killed, &text).unwrap();
    assert!(partial_from > 0);

    let resumed = csrs(dir.path(), &certify_args(&model, &cost, "killed.tsv", &["--resume"]), "");
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert!(resumed.stderr.contains("resuming killed.tsv"), "{}", resumed.stderr);
    // The same lines in the same order; only the timings differ.
    assert_eq!(without_seconds(&killed), without_seconds(&dir.path().join("whole.tsv")));
    assert_eq!(resumed.stdout, whole.stdout, "the summary covers every record");
}

#[test]
fn a_second_run_on_the_same_output_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let cost = cost_file();
    // A long run: many draws per example.
    let mut long = certify_args(&model, &cost, "busy.tsv", &[]);
    let n = long.iter().position(|a| *a == "--n").unwrap();
    long[n + 1] = "10000000";
    let mut child = spawn_until(dir.path(), &long, "busy.tsv", 1);
    let busy = dir.path().join("busy.tsv");
    let before = std::fs::read(&busy).unwrap();
    for extra in [&[][..], &["--resume"]] {
        let second = csrs(dir.path(), &certify_args(&model, &cost, "busy.tsv", extra), "");
        assert_eq!(second.code, Some(2), "{}", second.stderr);
        assert!(second.stderr.contains("busy.tsv is being written by another csrs run"), "{}", second.stderr);
        assert_eq!(second.stderr.lines().count(), 1, "{}", second.stderr);
    }
    assert!(child.try_wait().unwrap().is_none(), "the first run goes on");
    assert!(std::fs::read(&busy).unwrap().starts_with(&before), "nothing of the first run's was lost");

    // A killed run leaves no lock behind.
    child.kill().unwrap();
    child.wait().unwrap();
    let file = std::fs::OpenOptions::new().append(true).open(&busy).unwrap();
    file.try_lock().expect("the lock went with the process");
}

#[test]
fn shards_merge_into_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let cost = cost_file();
    let whole = csrs(dir.path(), &certify_args(&model, &cost, "whole.tsv", &["--skip", "2"]), "");
    assert_eq!(whole.code, Some(0), "{}", whole.stderr);
    let mut shard_files = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let out = format!("shard-{}.tsv", &shard[..1]);
        // Other batch sizes too: the noise does not depend on them.
        let run = csrs(
            dir.path(),
            &certify_args(&model, &cost, &out, &["--skip", "2", "--shard", shard, "--batch", "100"]),
            "",
        );
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        shard_files.push(out);
    }
    let mut args = vec!["merge", "--out", "merged.tsv"];
    args.extend(shard_files.iter().map(String::as_str));
    let merged = csrs(dir.path(), &args, "");
    assert_eq!(merged.code, Some(0), "{}", merged.stderr);
    assert_eq!(without_seconds(&dir.path().join("merged.tsv")), without_seconds(&dir.path().join("whole.tsv")));
    // The merged records get the shards' settings, without the shard.
    let settings = std::fs::read_to_string(dir.path().join("merged.tsv.config.toml")).unwrap();
    assert!(settings.contains("skip = 2\n") && settings.contains("shard = \"0/1\"\n"), "{settings}");

    // A shard of another run (another alpha) is refused.
    let other = csrs(
        dir.path(),
        &certify_args(
            &model,
            &cost,
            "other.tsv",
            &["--skip", "2", "--shard", "0/3", "--alpha", "0.01", "--batch", "100"],
        ),
        "",
    );
    assert_eq!(other.code, Some(0), "{}", other.stderr);
    let mixed = csrs(dir.path(), &["merge", "--out", "mixed.tsv", "other.tsv", "shard-1.tsv", "shard-2.tsv"], "");
    assert_eq!(mixed.code, Some(2));
    assert!(mixed.stderr.contains("other.tsv and shard-1.tsv were made with other settings"), "{}", mixed.stderr);

    // Merging a shard twice is refused.
    let twice = csrs(dir.path(), &["merge", "--out", "twice.tsv", "shard-0.tsv", "shard-0.tsv"], "");
    assert_eq!(twice.code, Some(2));
    assert!(twice.stderr.contains("is in both shard-0.tsv and shard-0.tsv"), "{}", twice.stderr);

    // A shard whose run was killed mid-line is refused, not cut silently.
    let mut partial = std::fs::read(dir.path().join("shard-0.tsv")).unwrap();
    partial.truncate(partial.len() - 3);
    std::fs::write(dir.path().join("shard-0.tsv"), partial).unwrap();
    let cut = csrs(dir.path(), &["merge", "--out", "cut.tsv", "shard-0.tsv", "shard-1.tsv", "shard-2.tsv"], "");
    assert_eq!(cut.code, Some(2));
    assert!(cut.stderr.contains("it was cut short or changed after its run ended"), "{}", cut.stderr);
    assert!(cut.stderr.starts_with("csrs: error: shard-0.tsv: "), "{}", cut.stderr);
}

#[test]
fn predict_and_config_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    std::fs::write(
        dir.path().join("run.toml"),
        format!("model = \"{model}\"\ndataset = \"digits\"\nsigma = 0.5\nn = 200\nmax = 10\nout = \"p.tsv\"\n"),
    )
    .unwrap();
    let run = csrs(dir.path(), &["predict", "--config", "run.toml", "--alpha", "0.01"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("summary: 10 examples; smoothed accuracy"), "{}", run.stdout);
    let text = std::fs::read_to_string(dir.path().join("p.tsv")).unwrap();
    assert_eq!(text.lines().next().unwrap(), "index\tlabel\tpredicted\tabstain\tcount_top\tcount_second\tseconds");
    assert_eq!(text.lines().count(), 11);
    let saved = std::fs::read_to_string(dir.path().join("p.tsv.config.toml")).unwrap();
    assert!(saved.contains("alpha = 0.01\n") && saved.contains("sigma = 0.5\n"), "{saved}");
    // The resolved settings are a config that runs the same again.
    let again = csrs(dir.path(), &["predict", "--config", "p.tsv.config.toml", "--out", "r.tsv"], "");
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let without_seconds = |name: &str| -> Vec<String> {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        text.lines().map(|line| line.rsplit_once('\t').unwrap().0.to_owned()).collect()
    };
    assert_eq!(without_seconds("r.tsv"), without_seconds("p.tsv"));

    // Paths in a config are relative to the working directory, not to the
    // config's folder: the same file works from a sub-folder's config.
    std::fs::create_dir(dir.path().join("configs")).unwrap();
    std::fs::copy(dir.path().join("run.toml"), dir.path().join("configs/run.toml")).unwrap();
    let run = csrs(dir.path(), &["predict", "--config", "configs/run.toml", "--out", "q.tsv"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(dir.path().join("q.tsv").exists() && !dir.path().join("configs/q.tsv").exists());
}

#[test]
fn bad_runs_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let cost = cost_file();
    std::fs::write(dir.path().join("bad.toml"), "sigma = 0.5\nnosie = \"sound\"\n").unwrap();
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (certify_args("nowhere", &cost, "o.tsv", &[]), "cannot read checkpoint nowhere.json"),
        (certify_args(&model, &cost, "o.csv", &[]), "o.csv: unknown output format, expected a .tsv or .jsonl file"),
        (certify_args(&model, &cost, "o.tsv", &["--shard", "3/3"]), "--shard \"3/3\", expected i/k with 0 <= i < k"),
        (certify_args(&model, &cost, "o.tsv", &["--device", "tpu"]), "--device: unknown device \"tpu\""),
        (vec!["certify", "--config", "bad.toml"], "bad.toml: unknown field `nosie`"),
        (vec!["certify", "--model", &model, "--dataset", "digits", "--out", "o.tsv"], "--sigma is required"),
        (
            vec!["certify", "--model", &model, "--dataset", "mnist-5k", "--sigma", "1", "--out", "o.tsv"],
            "model takes [1, 8, 8] inputs",
        ),
        (
            vec!["certify", "--model", &model, "--dataset", "cifar10", "--sigma", "1", "--out", "o.tsv"],
            "dataset cifar10 is read from a folder",
        ),
        (
            vec!["predict", "--model", &model, "--dataset", "digits", "--sigma", "1", "--n0", "5", "--out", "o.tsv"],
            "--n0 is not an option of predict",
        ),
        (
            certify_args(&model, &cost, "o.tsv", &["--skip", "18446744073709551615"]),
            "skip 18446744073709551615, expected at most 9223372036854775807: the largest integer a settings file",
        ),
        (
            vec![
                "predict",
                "--model",
                &model,
                "--dataset",
                "digits",
                "--sigma",
                "1",
                "--seed",
                "9223372036854775808",
                "--out",
                "o.tsv",
            ],
            "seed 9223372036854775808, expected at most 9223372036854775807",
        ),
        (
            vec![
                "predict",
                "--model",
                &model,
                "--dataset",
                "digits",
                "--sigma",
                "1",
                "--max",
                "18446744073709551615",
                "--out",
                "o.tsv",
            ],
            "max 18446744073709551615, expected at most 9223372036854775807",
        ),
        (
            certify_args(&model, &cost, "o.tsv", &["--precision", "bf16"]),
            "--precision bf16 runs on a GPU (--device cuda); on the CPU csrs computes in f32 only",
        ),
        (
            vec!["bench", "--arch", "digits-cnn", "--precision", "f16", "--engine", "burn"],
            "--precision f16 runs on a GPU (--device cuda); on the CPU csrs computes in f32 only",
        ),
    ];
    if cfg!(not(feature = "cuda")) {
        let message = "--device cuda:1: this csrs was built without CUDA support";
        cases.push((certify_args(&model, &cost, "o.tsv", &["--device", "cuda:1"]), message));
        let bench = vec!["bench", "--arch", "lenet5", "--device", "cuda", "--precision", "bf16"];
        cases.push((bench, "--device cuda:0: this csrs was built without CUDA support"));
    }
    for (args, message) in cases {
        let run = csrs(dir.path(), &args, "");
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}:\n{}\nshould contain {message:?}", run.stderr);
        assert_eq!(run.stderr.trim_end().lines().count(), 1, "{}", run.stderr);
    }
    assert!(!dir.path().join("o.tsv").exists() && !dir.path().join("o.tsv.config.toml").exists());
    let cost3 = dir.path().join("three.toml");
    std::fs::write(&cost3, "kind = \"seedwise\"\nn_classes = 3\nseeds = [1]\n").unwrap();
    let run = csrs(dir.path(), &certify_args(&model, cost3.to_str().unwrap(), "o.tsv", &[]), "");
    assert!(run.stderr.contains("three.toml: the file describes 3 classes, expected 10"), "{}", run.stderr);
}

#[test]
fn sound_noise_gives_the_same_records_on_both_engines_and_says_how_far_the_grid_is() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let cost = cost_file();
    let sound = |engine: &str, out: &str| {
        let run = csrs(dir.path(), &certify_args(&model, &cost, out, &["--noise", "sound", "--engine", engine]), "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        // Digits' 17 grey levels are off the 1/255 grid.
        assert!(run.stderr.contains("digits images are up to 0.0072 from it (l2)"), "{}", run.stderr);
        without_seconds(&dir.path().join(out))
    };
    let native = sound("native", "native.tsv");
    assert_eq!(sound("burn", "burn.tsv"), native);
    let saved = std::fs::read_to_string(dir.path().join("native.tsv.config.toml")).unwrap();
    assert!(saved.contains("noise = \"sound\"\n"), "{saved}");
    // Gaussian noise is another draw of another smoothing.
    let run = csrs(dir.path(), &certify_args(&model, &cost, "gaussian.tsv", &[]), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stderr.contains("grid"), "{}", run.stderr);
    assert_ne!(without_seconds(&dir.path().join("gaussian.tsv")), native);
    // Resuming Gaussian records with sound noise would mix two smoothed
    // classifiers in one file: refused, the file untouched.
    let before = std::fs::read_to_string(dir.path().join("gaussian.tsv")).unwrap();
    let resume = certify_args(&model, &cost, "gaussian.tsv", &["--noise", "sound", "--resume"]);
    let run = csrs(dir.path(), &resume, "");
    assert_eq!(run.code, Some(2));
    let message = "--resume: the records were made with noise \"gaussian\", this run has \"sound\"";
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("gaussian.tsv")).unwrap(), before);

    let predict = ["predict", "--model", &model, "--dataset", "digits", "--sigma", "0.25", "--noise", "sound"];
    let run = csrs(dir.path(), &[&predict[..], &["--n", "200", "--max", "5", "--out", "p.tsv"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let loud =
        ["predict", "--model", &model, "--dataset", "digits", "--sigma", "0.25", "--noise", "loud", "--out", "q"];
    let run = csrs(dir.path(), &loud, "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("unknown noise \"loud\", expected gaussian or sound"), "{}", run.stderr);
}

/// The checkpoint keeps the noise a model was trained with, so that
/// certifying it with the other noise says so.
#[test]
fn a_model_trained_with_gaussian_noise_certified_with_sound_noise_gets_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let config = "dataset = \"digits\"\narchitecture = \"digits-cnn\"\nout = \"m/g\"\nsigma = 0.25\nepochs = 1\n\
                  batch_size = 64\noptimizer = { kind = \"sgd\", lr = 0.05 }\nschedule = { kind = \"cosine\" }\n\n\
                  [objective]\nmethod = \"gaussian\"\n";
    std::fs::write(dir.path().join("t.toml"), config).unwrap();
    let run = csrs(dir.path(), &["train", "--config", "t.toml"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let shown = csrs(dir.path(), &["model", "show", "m/g"], "");
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    let meta: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(meta["training"]["noise"], "gaussian", "{}", shown.stdout);

    let certify = |noise: &str, out: &str| {
        let args = ["certify", "--model", "m/g", "--dataset", "digits", "--sigma", "0.25", "--n0", "20", "--n", "50"];
        let run = csrs(dir.path(), &[&args[..], &["--max", "2", "--noise", noise, "--out", out]].concat(), "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        run.stderr
    };
    let note = "note: the model was trained with gaussian noise, and is certified with sound noise";
    let stderr = certify("sound", "s.tsv");
    assert!(stderr.contains(note), "{stderr}");
    let stderr = certify("gaussian", "g.tsv");
    assert!(!stderr.contains("noise, and is certified with"), "{stderr}");
}

#[test]
fn a_slurm_array_task_certifies_its_shard() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let cost = cost_file();
    let output = Command::new(env!("CARGO_BIN_EXE_csrs"))
        .args(certify_args(&model, &cost, "s.tsv", &["--shard", "auto"]))
        .current_dir(dir.path())
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let indices: Vec<usize> = without_seconds(&dir.path().join("s.tsv"))
        .iter()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(indices, (0..24).filter(|i| i % 3 == 1).collect::<Vec<_>>());
    let resolved = std::fs::read_to_string(dir.path().join("s.tsv.config.toml")).unwrap();
    assert!(resolved.contains("# shard 1/3 from SLURM_ARRAY_TASK_ID 2 of 3 from 1\n"), "{resolved}");
    assert!(resolved.contains("shard = \"1/3\"\n"), "{resolved}");
    // Outside a scheduler, auto has nothing to read.
    let run = csrs(dir.path(), &certify_args(&model, &cost, "t.tsv", &["--shard", "auto"]), "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--shard auto: no shard in the environment"), "{}", run.stderr);
}

#[test]
fn predict_help_lists_only_the_options_predict_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let predict = csrs(dir.path(), &["predict", "--help"], "");
    assert_eq!(predict.code, Some(0), "{}", predict.stderr);
    assert!(predict.stdout.contains("--sigma <SIGMA>"), "{}", predict.stdout);
    assert!(!predict.stdout.contains("--cost <") && !predict.stdout.contains("--n0 <"), "{}", predict.stdout);
    let certify = csrs(dir.path(), &["certify", "--help"], "");
    assert!(certify.stdout.contains("--cost <FILE>") && certify.stdout.contains("--n0 <N0>"), "{}", certify.stdout);
}

#[test]
fn certification_in_rounds_stops_when_it_has_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo_root().join("models/digits-gaussian-025").display().to_string();
    let cost = cost_file();
    let args = ["certify", "--model", &model, "--dataset", "digits", "--cost", &cost, "--sigma", "0.25"];
    let common = [&args[..], &["--batch", "100", "--max", "12"]].concat();
    let budget = [&common[..], &["--n", "3200"]].concat();
    let run = csrs(dir.path(), &[&budget[..], &["--target-radius", "0.3", "--out", "r.jsonl"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("estimation draws per input on average"), "{}", run.stdout);
    let records: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("r.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let draws: Vec<u64> = records.iter().map(|r| r["draws"].as_u64().unwrap()).collect();
    // Doubling rounds from 100 draws: 100, 200, 400, ..., 3 200 at most.
    assert!(draws.iter().all(|d| d % 100 == 0 && (d / 100).is_power_of_two() && *d <= 3200), "{draws:?}");
    assert!(draws.iter().sum::<u64>() < 12 * 3200 / 2, "most inputs are decided early: {draws:?}");
    // Each record says whether its input was decided at the target radius;
    // only those that spent every draw can have run out.
    let decided: Vec<bool> = records.iter().map(|r| r["decided"].as_bool().unwrap()).collect();
    assert!(decided.iter().zip(&draws).all(|(decided, draws)| *decided || *draws == 3200), "{decided:?} {draws:?}");
    let out_of_draws = decided.iter().filter(|decided| !**decided).count();
    // Away from the target radius the summary gives lower bounds, marked.
    let accuracy = "certified accuracy at radius 0, 0.25, 0.3, 0.5, 0.75, 1: ";
    assert!(run.stdout.contains(accuracy), "{}", run.stdout);
    let values = run.stdout.split(accuracy).nth(1).unwrap().split(';').next().unwrap();
    assert_eq!(values.split(", ").filter(|value| value.starts_with('≥')).count(), 5, "{}", run.stdout);
    assert!(run.stdout.contains("each input stopped drawing once its answer at radius 0.3 was known"));
    let counted = format!("; {out_of_draws} of 12 inputs ran out of draws before their answer");
    assert!(run.stdout.contains(&counted), "{}", run.stdout);

    let analyzed = csrs(dir.path(), &["analyze", "--format", "jsonl", "--radii", "0.25,0.3", "r.jsonl"], "");
    let analyzed: serde_json::Value = serde_json::from_str(analyzed.stdout.trim()).unwrap();
    let mean = draws.iter().sum::<u64>() as f64 / draws.len() as f64;
    assert_eq!(analyzed["mean_draws"].as_f64(), Some(mean));
    assert_eq!(analyzed["out_of_draws"].as_u64(), Some(out_of_draws as u64));
    assert_eq!(analyzed["target_radius"].as_f64(), Some(0.3));
    // Bounds are no metric: left out of JSON and TSV, marked in markdown.
    assert!(analyzed["certified_accuracy@0.3"].as_f64().is_some(), "{analyzed}");
    for key in ["certified_accuracy@0.25", "clean_accuracy", "acr"] {
        assert_eq!(analyzed[key], serde_json::Value::Null, "{key}");
    }
    let markdown = csrs(dir.path(), &["analyze", "r.jsonl"], "");
    assert_eq!(markdown.code, Some(0), "{}", markdown.stderr);
    assert!(markdown.stdout.contains("| ≥") && markdown.stdout.contains("≥: a lower bound, not the metric"));
    assert!(markdown.stdout.contains("--radii 0.3 gives them where they are exact"), "{}", markdown.stdout);
    let resolved = std::fs::read_to_string(dir.path().join("r.jsonl.config.toml")).unwrap();
    assert!(resolved.contains("target_radius = 0.3"), "{resolved}");

    // The radius to a tolerance; fixed n records n draws.
    let run = csrs(dir.path(), &[&budget[..], &["--radius-tolerance", "0.2", "--out", "t.tsv"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run = csrs(dir.path(), &[&common[..], &["--n", "500", "--out", "f.jsonl"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stdout.contains('≥') && !run.stdout.contains("ran out of draws"), "{}", run.stdout);
    let fixed = std::fs::read_to_string(dir.path().join("f.jsonl")).unwrap();
    // A fixed n has nothing to decide.
    assert!(fixed.lines().all(|line| line.contains("\"draws\":500,\"decided\":null")), "{fixed}");

    for (extra, message) in [
        (vec!["--target-radius=-1"], "--target-radius -1, expected a finite number > 0"),
        (vec!["--radius-tolerance", "0"], "--radius-tolerance 0, expected a finite number > 0"),
    ] {
        let run = csrs(dir.path(), &[&budget[..], &extra, &["--out", "bad.tsv"]].concat(), "");
        assert_eq!(run.code, Some(2), "{extra:?}");
        assert!(run.stderr.contains(message), "{extra:?}: {}", run.stderr);
    }
    let both = [&budget[..], &["--target-radius", "0.3", "--radius-tolerance", "0.1", "--out", "b.tsv"]].concat();
    assert_eq!(csrs(dir.path(), &both, "").code, Some(2));
    let predict = ["predict", "--model", &model, "--dataset", "digits", "--sigma", "0.25", "--out", "p.tsv"];
    let run = csrs(dir.path(), &[&predict[..], &["--target-radius", "0.3"]].concat(), "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--target-radius is not an option of predict"), "{}", run.stderr);
}
