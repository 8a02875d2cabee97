//! Denoised smoothing from the command line: `model init --arch dncnn`, a
//! denoiser in front of a classifier for `certify`, `predict`, `bench` and
//! `plan`, exported and read back in each format, kept by `--resume`, and
//! refused in one line.

use std::path::Path;

use crate::util::{csrs, repo_root};

fn ok(dir: &Path, args: &[&str]) -> String {
    let run = csrs(dir, args, "");
    assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
    run.stdout
}

/// A digits classifier and a small DnCNN, untrained.
fn models(dir: &Path) {
    ok(dir, &["model", "init", "--arch", "digits-cnn", "--dataset", "digits", "--out", "m/cnn", "--seed", "1"]);
    let init = ["model", "init", "--arch", "dncnn", "--depth", "3", "--width", "8", "--dataset", "digits"];
    ok(dir, &[&init[..], &["--out", "m/dncnn", "--seed", "2"]].concat());
}

/// The records of a certification of `m/cnn` behind `denoiser` (every
/// column but the time each example took).
fn certify(dir: &Path, denoiser: Option<&str>, out: &str, extra: &[&str]) -> String {
    let cost = repo_root().join("configs/costs/digits-3-to-8.toml").display().to_string();
    let mut args = vec!["certify", "--model", "m/cnn", "--dataset", "digits", "--cost", &cost, "--sigma", "0.25"];
    args.extend(["--n0", "50", "--n", "300", "--batch", "200", "--max", "4", "--out", out]);
    if let Some(denoiser) = denoiser {
        args.extend(["--denoiser", denoiser]);
    }
    args.extend(extra);
    ok(dir, &args);
    let records = std::fs::read_to_string(dir.join(out)).unwrap();
    records.lines().map(|line| line.rsplit_once('\t').unwrap().0.to_owned() + "\n").collect()
}

#[test]
fn a_denoiser_is_certified_in_front_of_a_classifier_and_exported_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    models(dir);
    let denoised = certify(dir, Some("m/dncnn"), "denoised.tsv", &[]);
    assert_eq!(denoised.lines().count(), 1 + 4);
    assert_ne!(denoised, certify(dir, None, "plain.tsv", &[]), "the denoiser changes what is classified");
    let settings = std::fs::read_to_string(dir.join("denoised.tsv.config.toml")).unwrap();
    assert!(settings.contains("denoiser = \"m/dncnn\""), "{settings}");
    // burn runs the joined network as the engine does.
    assert_eq!(certify(dir, Some("m/dncnn"), "burn.tsv", &["--engine", "burn"]), denoised);

    // The denoiser out as ONNX and with PyTorch's names, and back in.
    for (format, file) in [("onnx", "dncnn.onnx"), ("safetensors", "dncnn.safetensors")] {
        let run = csrs(dir, &["model", "export", "m/dncnn", "--format", format, "--out", file], "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(run.stderr.contains("dncnn denoiser"), "{}", run.stderr);
        assert_eq!(certify(dir, Some(file), &format!("{format}.tsv"), &[]), denoised, "{format}");
    }
    let shown: serde_json::Value = serde_json::from_str(&ok(dir, &["model", "show", "m/dncnn"])).unwrap();
    assert_eq!(shown["denoiser"]["network"], serde_json::json!({"architecture": "dncnn", "depth": 3, "width": 8}));

    // analyze's figure names the denoiser.
    ok(dir, &["analyze", "denoised.tsv", "plain.tsv", "--plot", "f.svg"]);
    let figure = std::fs::read_to_string(dir.join("f.svg")).unwrap();
    assert!(figure.contains("cnn denoised by dncnn, σ = 0.25, digits-3-to-8"), "{figure}");

    // predict, bench and plan take it too.
    let predict = ["predict", "--model", "m/cnn", "--denoiser", "m/dncnn", "--dataset", "digits", "--sigma", "0.25"];
    ok(dir, &[&predict[..], &["--n", "200", "--max", "2", "--out", "p.tsv"]].concat());
    assert_eq!(std::fs::read_to_string(dir.join("p.tsv")).unwrap().lines().count(), 1 + 2);
    let bench = ok(dir, &["bench", "--model", "m/cnn", "--denoiser", "m/dncnn", "--batch", "200", "--samples", "400"]);
    assert_eq!(bench.lines().count(), 2, "{bench}");
    let plan = ["plan", "--sigma", "0.25", "--alpha", "0.001", "--n", "1000", "--model", "m/cnn"];
    let run = csrs(dir, &[&plan[..], &["--denoiser", "m/dncnn", "--batch", "200"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("time:"), "{}", run.stdout);
}

#[test]
fn resume_keeps_the_denoiser() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    models(dir);
    certify(dir, Some("m/dncnn"), "r.tsv", &[]);
    let init = ["model", "init", "--arch", "dncnn", "--depth", "3", "--width", "8", "--dataset", "digits"];
    ok(dir, &[&init[..], &["--out", "m/other"]].concat());
    let before = std::fs::read_to_string(dir.join("r.tsv")).unwrap();
    for denoiser in [Some("m/other"), None] {
        let cost = repo_root().join("configs/costs/digits-3-to-8.toml").display().to_string();
        let mut args = vec!["certify", "--model", "m/cnn", "--dataset", "digits", "--cost", &cost, "--sigma", "0.25"];
        args.extend(["--n0", "50", "--n", "300", "--batch", "200", "--max", "6", "--out", "r.tsv", "--resume"]);
        if let Some(denoiser) = denoiser {
            args.extend(["--denoiser", denoiser]);
        }
        let run = csrs(dir, &args, "");
        assert_eq!(run.code, Some(2), "{denoiser:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("made with denoiser"), "{}", run.stderr);
        assert_eq!(std::fs::read_to_string(dir.join("r.tsv")).unwrap(), before);
    }
}

#[test]
fn denoisers_that_do_not_fit_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    models(dir);
    ok(
        dir,
        &[
            "model",
            "init",
            "--arch",
            "dncnn",
            "--depth",
            "2",
            "--width",
            "4",
            "--dataset",
            "mnist-5k",
            "--out",
            "m/wide",
        ],
    );
    let cases: [(&[&str], &str); 5] = [
        (&["m/cnn", "--denoiser", "m/wide"], "the denoiser takes [1, 28, 28] images, the model [1, 8, 8] (digits)"),
        (&["m/cnn", "--denoiser", "m/cnn"], "m/cnn.json: a classifier's checkpoint, not a denoiser's"),
        (&["m/cnn", "--denoiser", "m/missing"], "m/missing"),
        (&["m/dncnn"], "m/dncnn.json: a denoiser's checkpoint (give it as the denoiser)"),
        (&["m/dncnn", "--denoiser", "m/dncnn"], "a denoiser's checkpoint (give it as the denoiser)"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["certify", "--dataset", "digits", "--sigma", "0.25", "--out", "r.tsv", "--model"];
        args.extend(extra);
        let run = csrs(dir, &args, "");
        assert_eq!(run.code, Some(2), "{extra:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{extra:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{extra:?}: {}", run.stderr);
        assert!(!dir.join("r.tsv").exists());
    }
    let run =
        csrs(dir, &["model", "init", "--arch", "digits-cnn", "--depth", "3", "--dataset", "digits", "--out", "x"], "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--depth sizes a dncnn denoiser; --arch digits-cnn is a classifier"), "{}", run.stderr);
    let run = csrs(dir, &["model", "init", "--arch", "dncnn", "--depth", "1", "--dataset", "digits", "--out", "x"], "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("dncnn depth 1, expected 2 to 1000"), "{}", run.stderr);
    assert!(!dir.join("x.json").exists());
}
