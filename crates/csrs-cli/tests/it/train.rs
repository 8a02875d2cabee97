//! `csrs train`: a short run, its log, resume and bad configurations.

use crate::util::{csrs, repo_root};

/// A gaussian-cs configuration; `extra` adds top-level keys.
fn config(epochs: usize, extra: &str) -> String {
    format!(
        "{extra}dataset = \"digits\"\narchitecture = \"digits-cnn\"\nout = \"m/d\"\ncost = \"{}\"\nsigma = 0.25\n\
         epochs = {epochs}\nbatch_size = 64\noptimizer = {{ kind = \"sgd\", lr = 0.05, momentum = 0.9 }}\n\
         schedule = {{ kind = \"cosine\" }}\n\n[objective]\nmethod = \"gaussian\"\ncost_sensitive = {{ weight = 2.0 }}\n",
        repo_root().join("configs/costs/digits-3-to-8.toml").display()
    )
}

/// `text` without the lines that start with `key`.
fn without(text: &str, key: &str) -> String {
    text.lines().filter(|line| !line.starts_with(key)).map(|line| format!("{line}\n")).collect()
}

#[test]
fn trains_logs_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.toml"), config(2, "")).unwrap();
    let run = csrs(dir.path(), &["train", "--config", "t.toml"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("epoch 2/2: loss"), "{}", run.stderr);
    let log = std::fs::read_to_string(dir.path().join("m/d.log.csv")).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}");
    assert!(log.starts_with("epoch,lr,loss_classification"));
    let meta = std::fs::read_to_string(dir.path().join("m/d.json")).unwrap();
    assert!(meta.contains("\"method\": \"gaussian-cs\"") && meta.contains("\"epoch\": 2"), "{meta}");
    // The resolved configuration beside the checkpoint trains the same run.
    let resolved = std::fs::read_to_string(dir.path().join("m/d.config.toml")).unwrap();
    assert!(resolved.contains("[objective.cost_sensitive]\nweight = 2.0\n"), "{resolved}");
    assert!(resolved.contains("weight_decay = 0.0\n"), "defaults are written: {resolved}");

    // Without --resume an existing checkpoint is not overwritten.
    let again = csrs(dir.path(), &["train", "--config", "t.toml"], "");
    assert_eq!(again.code, Some(2));
    assert!(again.stderr.contains("m/d.json already exists: pass --force"), "{}", again.stderr);
    assert!(again.stderr.contains("(or --resume to continue that run)"), "{}", again.stderr);

    // Two more epochs on top.
    std::fs::write(dir.path().join("t.toml"), config(4, "")).unwrap();
    let resumed = csrs(dir.path(), &["train", "--config", "t.toml", "--resume"], "");
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert!(!resumed.stderr.contains("epoch 2/4") && resumed.stderr.contains("epoch 4/4"), "{}", resumed.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("m/d.log.csv")).unwrap().lines().count(), 5);

    // The trained model certifies.
    let certify = csrs(
        dir.path(),
        &[
            "certify",
            "--model",
            "m/d",
            "--dataset",
            "digits",
            "--sigma",
            "0.25",
            "--n",
            "200",
            "--max",
            "5",
            "--out",
            "c.tsv",
        ],
        "",
    );
    assert_eq!(certify.code, Some(0), "{}", certify.stderr);
}

/// Trains one epoch of `config(1, extra)` into `out` (in `dir`); its
/// messages and its resolved configuration.
fn train_one_epoch(dir: &std::path::Path, extra: &str, out: &str) -> (String, String) {
    let file = format!("{}.toml", out.replace('/', "-"));
    std::fs::write(dir.join(&file), config(1, extra).replace("m/d", out)).unwrap();
    let run = csrs(dir, &["train", "--config", &file], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    (run.stderr, std::fs::read_to_string(dir.join(format!("{out}.config.toml"))).unwrap())
}

#[test]
fn trains_with_sound_noise_and_keeps_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (stderr, resolved) = train_one_epoch(dir.path(), "noise = \"sound\"\n", "m/d");
    assert!(stderr.contains("sigma = 0.25 (sound noise)"), "{stderr}");
    assert!(resolved.contains("noise = \"sound\""), "{resolved}");
    // Gaussian, the default, is left out of the resolved configuration.
    let (_, resolved) = train_one_epoch(dir.path(), "", "m/g");
    assert!(!resolved.contains("noise"), "{resolved}");
}

/// Data-parallel training on the CPU: threads, one device.
#[test]
fn trains_with_replicas_and_keeps_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (stderr, resolved) = train_one_epoch(dir.path(), "replicas = 2\n", "m/d");
    assert!(stderr.contains("1 epochs, 2 replicas on the cpu"), "{stderr}");
    assert!(resolved.contains("replicas = 2"), "{resolved}");
    let log = std::fs::read_to_string(dir.path().join("m/d.log.csv")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
}

#[test]
fn bad_training_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (config(2, "").replace("method = \"gaussian\"", "method = \"macer-xl\""), "unknown variant `macer-xl`"),
        (config(2, "").replace("sigma = 0.25", "sigma = -1"), "sigma is -1, expected a finite number >= 0"),
        (config(0, ""), "epochs is 0, expected at least 1"),
        (config(2, "nosie = 3\n"), "unknown field `nosie`"),
        (config(2, "noise = 3\n"), "noise: invalid type: integer `3`, expected a string"),
        (config(2, "noise = \"loud\"\n"), "noise: unknown noise \"loud\", expected gaussian or sound"),
        (config(2, "replicas = 0\n"), "replicas is 0, expected at least 1"),
        (config(2, "replicas = 65\n"), "replicas is 65, expected at most batch_size (64)"),
        (
            config(2, "").replace("architecture = \"digits-cnn\"", "architecture = \"lenet5\""),
            "lenet5 takes 28x28 or 32x32 inputs",
        ),
        (without(&config(2, ""), "cost ="), "method gaussian-cs needs a cost matrix"),
        (without(&config(2, ""), "cost_sensitive"), "`cost` is set, but method gaussian does not use a cost matrix"),
    ];
    for (text, message) in cases {
        std::fs::write(dir.path().join("t.toml"), &text).unwrap();
        let run = csrs(dir.path(), &["train", "--config", "t.toml"], "");
        assert_eq!(run.code, Some(2), "{text}");
        assert!(run.stderr.contains(message), "{}\nshould contain {message:?}", run.stderr);
        assert_eq!(run.stderr.trim_end().lines().count(), 1, "{}", run.stderr);
    }
}

/// Starts `csrs train`, waits until `epochs_logged` epochs are in the log,
/// then kills it (SIGKILL: no chance to tidy up) in the middle of an epoch.
fn kill_after_epochs(dir: &std::path::Path, epochs_logged: usize) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_csrs"))
        .args(["train", "--config", "t.toml"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = dir.join("m/d.log.csv");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::fs::read_to_string(&log).map_or(0, |text| text.lines().count()) < 1 + epochs_logged {
        assert!(std::time::Instant::now() < deadline, "no epoch logged in 300 s");
        assert!(child.try_wait().unwrap().is_none(), "training ended before it could be killed");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(30));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_run_killed_mid_epoch_resumes_from_its_last_checkpoint() {
    let whole = tempfile::tempdir().unwrap();
    let killed = tempfile::tempdir().unwrap();
    let text = without(&without(&config(6, "seed = 3\n"), "cost ="), "cost_sensitive");
    for dir in [whole.path(), killed.path()] {
        std::fs::write(dir.join("t.toml"), &text).unwrap();
    }
    let run = csrs(whole.path(), &["train", "--config", "t.toml"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    kill_after_epochs(killed.path(), 2);
    let meta = std::fs::read_to_string(killed.path().join("m/d.json")).unwrap();
    assert!(!meta.contains("\"epoch\": 6"), "the run finished before it was killed");
    // A kill between an epoch's new optimiser state and the removal of the
    // one before leaves two; stand in for that race with a state of epoch 0
    // (epoch 1 is saved before epoch 2 is logged, so it is never the one read).
    std::fs::write(killed.path().join("m/d.optim-0.mpk"), b"stale").unwrap();
    let resumed = csrs(killed.path(), &["train", "--config", "t.toml", "--resume"], "");
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);

    // The same model as the uninterrupted run (records hold random parameter
    // ids, so compare what the models certify), and each epoch logged once.
    let certified = |dir: &std::path::Path| -> Vec<String> {
        let args = ["certify", "--model", "m/d", "--dataset", "digits", "--sigma", "0.25", "--n", "300"];
        let run = csrs(dir, &[&args[..], &["--max", "20", "--out", "c.tsv"]].concat(), "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let records = std::fs::read_to_string(dir.join("c.tsv")).unwrap();
        records.lines().map(|line| line.rsplit_once('\t').unwrap().0.to_owned()).collect()
    };
    assert_eq!(certified(killed.path()), certified(whole.path()), "the resumed run ended with another model");
    let epochs = |dir: &std::path::Path| -> Vec<String> {
        let log = std::fs::read_to_string(dir.join("m/d.log.csv")).unwrap();
        log.lines().skip(1).map(|line| line.split(',').take(8).collect::<Vec<_>>().join(",")).collect()
    };
    assert_eq!(epochs(killed.path()), epochs(whole.path()), "the logs differ beyond their seconds");
    let leftovers: Vec<_> = std::fs::read_dir(killed.path().join("m"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains(".optim-") && !name.ends_with(".optim-6.mpk"))
        .collect();
    assert!(leftovers.is_empty(), "stale optimiser states: {leftovers:?}");
}

/// burn loads an optimiser state from another run silently (its momentum
/// dropped where the parameters differ); a resumed run refuses it instead.
#[test]
fn an_optimiser_state_from_another_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plain = without(&without(&config(1, ""), "cost ="), "cost_sensitive");
    for (name, architecture) in [("a", "digits-cnn"), ("b", "mlp")] {
        let text = plain.replace("m/d", &format!("m/{name}")).replace("digits-cnn", architecture);
        std::fs::write(dir.path().join(format!("{name}.toml")), &text).unwrap();
        let run = csrs(dir.path(), &["train", "--config", &format!("{name}.toml")], "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    std::fs::copy(dir.path().join("m/b.optim-1.mpk"), dir.path().join("m/a.optim-1.mpk")).unwrap();
    let longer = std::fs::read_to_string(dir.path().join("a.toml")).unwrap().replace("epochs = 1", "epochs = 2");
    std::fs::write(dir.path().join("a.toml"), longer).unwrap();
    let resumed = csrs(dir.path(), &["train", "--config", "a.toml", "--resume"], "");
    assert_eq!(resumed.code, Some(2), "{}", resumed.stderr);
    let error = resumed.stderr.trim_end().lines().last().unwrap();
    assert!(error.starts_with("csrs: error: m/a.optim-1.mpk: optimiser state: does not match"), "{error}");
}
