//! `csrs train` of a denoiser in front of a frozen classifier: every
//! denoiser objective, a resumed run, the classifier's files untouched, the
//! denoiser certified behind it; and the configurations it refuses.

use std::path::Path;

use crate::util::{csrs, repo_root};

fn cost() -> String {
    repo_root().join("configs/costs/digits-3-to-8.toml").display().to_string()
}

/// A run on digits training a small DnCNN in front of `m/cnn`, `epochs`
/// long, with `objective` and `extra` top-level keys.
fn config(out: &str, epochs: usize, extra: &str, objective: &str) -> String {
    format!(
        "dataset = \"digits\"\nclassifier = \"m/cnn\"\ndenoiser = {{ arch = \"dncnn\", depth = 3, width = 8 }}\n\
         out = \"{out}\"\nsigma = 0.25\nepochs = {epochs}\nbatch_size = 128\n{extra}\
         optimizer = {{ kind = \"adam\", lr = 0.001 }}\nschedule = {{ kind = \"cosine\" }}\n\n[objective]\n{objective}\n"
    )
}

fn train(dir: &Path, name: &str, text: &str, args: &[&str]) -> crate::util::Run {
    std::fs::write(dir.join(name), text).unwrap();
    let mut all = vec!["train", "--config", name];
    all.extend_from_slice(args);
    csrs(dir, &all, "")
}

fn classifier(dir: &Path) {
    let run = csrs(dir, &["model", "init", "--arch", "digits-cnn", "--dataset", "digits", "--out", "m/cnn"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn every_denoiser_objective_trains_in_front_of_a_frozen_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    classifier(dir);
    let weights = std::fs::read(dir.join("m/cnn.mpk")).unwrap();
    let cs = format!("cost = \"{}\"\n", cost());
    let cases = [
        ("mse", "", "method = \"denoiser-mse\"", "denoiser-mse"),
        ("stab", "", "method = \"denoiser-stab\"\nnoise_copies = 1\nmse_epochs = 1", "denoiser-stab"),
        (
            "stab-cs",
            cs.as_str(),
            "method = \"denoiser-stab\"\nnoise_copies = 2\n\
             cost_sensitive = { beta = 16.0, lambda = 1.0, gamma_sensitive = 8.0 }",
            "denoiser-stab-cs",
        ),
        (
            "macer-cs",
            cs.as_str(),
            "method = \"denoiser-macer\"\nnoise_copies = 2\nbeta = 16.0\nlambda = 1.0\ngamma = 8.0\n\
             cost_sensitive = { gamma_sensitive = 8.0 }",
            "denoiser-macer-cs",
        ),
    ];
    for (name, extra, objective, method) in cases {
        let out = format!("m/{name}");
        let run = train(dir, &format!("{name}.toml"), &config(&out, 2, extra, objective), &[]);
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert!(run.stderr.contains("a dncnn denoiser in front of m/cnn"), "{}", run.stderr);
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{out}.json"))).unwrap()).unwrap();
        assert_eq!(meta["training"]["method"], method);
        assert_eq!(meta["training"]["epoch"], 2);
        assert_eq!(meta["denoiser"]["network"]["architecture"], "dncnn");
        let log = std::fs::read_to_string(dir.join(format!("{out}.log.csv"))).unwrap();
        assert_eq!(log.lines().count(), 1 + 2, "{log}");
    }
    assert_eq!(std::fs::read(dir.join("m/cnn.mpk")).unwrap(), weights, "the classifier's file is read, not written");

    // The MSE denoiser's loss fell, and it is certified behind the classifier.
    let log = std::fs::read_to_string(dir.join("m/mse.log.csv")).unwrap();
    let losses: Vec<f64> = log.lines().skip(1).map(|l| l.split(',').nth(2).unwrap().parse().unwrap()).collect();
    assert!(losses[1] < losses[0], "{log}");
    let args = ["certify", "--model", "m/cnn", "--denoiser", "m/stab-cs", "--dataset", "digits", "--sigma", "0.25"];
    let run = csrs(dir, &[&args[..], &["--n", "200", "--max", "2", "--out", "r.tsv"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn a_denoiser_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    classifier(dir);
    let objective = "method = \"denoiser-stab\"\nnoise_copies = 1\nmse_epochs = 1";
    let run = train(dir, "r.toml", &config("m/d", 1, "", objective), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run = train(dir, "r.toml", &config("m/d", 2, "", objective), &["--resume"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("epoch 2/2: loss"), "{}", run.stderr);
    let log = std::fs::read_to_string(dir.join("m/d.log.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 2, "{log}");
    // Another denoiser in the configuration: refused, the checkpoint kept.
    let checkpoint = std::fs::read(dir.join("m/d.mpk")).unwrap();
    let run = train(dir, "r.toml", &config("m/d", 3, "", objective).replace("width = 8", "width = 16"), &["--resume"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("the checkpoint holds another denoiser than the configuration describes"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(dir.join("m/d.mpk")).unwrap(), checkpoint);
}

#[test]
fn denoiser_runs_that_cannot_be_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    classifier(dir);
    for (arch, dataset, out) in [("lenet5", "mnist-5k", "m/mnist"), ("mlp", "ham10000", "m/seven")] {
        let run = csrs(dir, &["model", "init", "--arch", arch, "--dataset", dataset, "--out", out], "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    let mse = "method = \"denoiser-mse\"";
    let cases: [(String, &str); 7] = [
        (config("m/x", 1, "", mse).replace("\"m/cnn\"", "\"m/seven\""), "m/seven.json has 7 classes, expected 10"),
        (config("m/x", 1, "", "method = \"gaussian\""), "but method gaussian trains a classifier"),
        (
            config("m/x", 1, "", mse).replace("classifier = \"m/cnn\"\n", ""),
            "method denoiser-mse trains a denoiser in front of a frozen classifier: set `classifier`",
        ),
        (config("m/x", 1, "architecture = \"mlp\"\n", mse), "`architecture`, `model` and `freeze_batch_norm`"),
        (config("m/x", 1, "freeze_batch_norm = true\n", mse), "`architecture`, `model` and `freeze_batch_norm`"),
        (
            config("m/x", 1, "", mse).replace("\"m/cnn\"", "\"m/mnist\""),
            "m/mnist: the model takes 1x28x28 inputs, but digits images are 1x8x8",
        ),
        (config("m/x", 1, "", mse).replace("depth = 3", "depth = 1"), "dncnn depth 1, expected 2 to 1000"),
    ];
    for (text, message) in cases {
        let run = train(dir, "bad.toml", &text, &[]);
        assert_eq!(run.code, Some(2), "{message}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(message), "{message}: {}", run.stderr);
        assert!(!dir.join("m/x.json").exists() && !dir.join("m/x.log.csv").exists(), "{message}");
    }
}
