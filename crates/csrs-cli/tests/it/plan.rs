//! `csrs plan --model`: the time of a run from a quick timing of the model; `csrs bench` with either noise.

use crate::util::{csrs, repo_root};

#[test]
fn a_model_is_timed_for_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo_root().join("models/digits-gaussian-025").display().to_string();
    let args = ["plan", "--sigma", "0.25", "--alpha", "0.001", "--n", "10000", "--model", &model, "--examples", "500"];
    let run = csrs(dir.path(), &[&args[..], &["--batch", "200"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // stderr: "<model>: R samples/s on cpu (batch 200)"; stdout uses R.
    let rate: f64 = run.stderr.split(": ").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    assert!(rate > 100.0 && run.stderr.contains("on cpu (batch 200)"), "{}", run.stderr);
    let time = run.stdout.lines().find(|l| l.starts_with("time: ")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(time.starts_with(&format!("time: 10100 draws per input at {rate:.0} samples/s: ")), "{time}");
    assert!(time.contains("; 500 inputs: "), "{time}");

    for (extra, message) in [
        (vec!["--samples-per-second", "5"], "cannot be used with"),
        (vec!["--batch", "50"], "--batch 50, expected at least 100"),
    ] {
        let run = csrs(dir.path(), &[&args[..], &extra].concat(), "");
        assert_eq!(run.code, Some(2), "{extra:?}");
        assert!(run.stderr.contains(message), "{extra:?}: {}", run.stderr);
    }
    let run = csrs(dir.path(), &["plan", "--sigma", "0.25", "--alpha", "0.001", "--model", "x.pth"], "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("x.pth: a PyTorch, safetensors or ONNX model needs --dataset"), "{}", run.stderr);
}

#[test]
fn bench_times_either_noise() {
    let dir = tempfile::tempdir().unwrap();
    for noise in ["gaussian", "sound"] {
        let args = ["bench", "--arch", "digits-cnn", "--batch", "100", "--samples", "200", "--noise", noise];
        let run = csrs(dir.path(), &args, "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let lines: Vec<&str> = run.stdout.lines().collect();
        let column = lines[0].split('\t').position(|c| c == "noise").expect("a noise column");
        assert_eq!(lines[1].split('\t').nth(column), Some(noise), "{}", run.stdout);
    }
}

/// Sizes from flags up to 2⁶⁴ − 1 are refused by name before anything is
/// allocated for them: one line, exit status 2, no panic.
#[test]
fn sizes_beyond_their_limits_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let max = u64::MAX.to_string();
    let run_args = ["--model", "m", "--dataset", "digits", "--sigma", "0.25", "--out", "o.tsv"];
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["bench", "--batch", &max], format!("--batch {max}, expected at most 1048576 noisy copies")),
        (
            vec!["bench", "--arch", "resnet50", "--batch", "8000"],
            "resnet50: --batch 8000 of 150528-value inputs".into(),
        ),
        (vec!["bench", "--samples", &max], format!("--samples {max}, expected at most 1073741824")),
        (
            vec!["plan", "--sigma", "0.25", "--alpha", "0.001", "--n", &max],
            format!("--n {max}, expected 1 to 1073741824"),
        ),
        (vec!["plan", "--sigma", "0.25", "--alpha", "0.001", "--n0", &max], format!("--n0 {max}, expected at most")),
        (
            vec!["plan", "--sigma", "0.25", "--alpha", "0.001", "--samples-per-second", "10", "--examples", &max],
            format!("--examples {max}, expected at most 4294967296"),
        ),
        ([&["certify"][..], &run_args, &["--n", &max]].concat(), format!("--n {max}, expected at most 1073741824")),
        ([&["certify"][..], &run_args, &["--n0", &max]].concat(), format!("--n0 {max}, expected at most 1073741824")),
        (
            [&["certify"][..], &run_args, &["--batch", &max]].concat(),
            format!("--batch {max}, expected at most 1048576"),
        ),
        ([&["predict"][..], &run_args, &["--n", &max]].concat(), format!("--n {max}, expected at most 1073741824")),
    ];
    for (args, message) in cases {
        let run = csrs(dir.path(), &args, "");
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with(&format!("csrs: error: {message}")), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
    }
}
