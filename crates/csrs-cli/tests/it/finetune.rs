//! `csrs train` on a network of someone else's: an ONNX file or a
//! checkpoint as the starting point, given back as ONNX and certified from
//! there; and the networks it refuses.

use std::path::Path;

use crate::util::{csrs, max_logit_difference, repo_root};

fn fixture(name: &str) -> String {
    repo_root().join("crates/csrs-onnx/tests/data").join(name).display().to_string()
}

fn cost() -> String {
    repo_root().join("configs/costs/digits-3-to-8.toml").display().to_string()
}

/// A one-epoch run on digits from `network` (`model = ...`, or
/// `architecture = ...`), with `objective` and `extra` top-level keys.
fn config(network: &str, out: &str, lr: f64, extra: &str, objective: &str) -> String {
    format!(
        "dataset = \"digits\"\n{network}\nout = \"{out}\"\nsigma = 0.25\nepochs = 1\nbatch_size = 64\n{extra}\
         optimizer = {{ kind = \"sgd\", lr = {lr}, momentum = 0.9 }}\nschedule = {{ kind = \"cosine\" }}\n\n\
         [objective]\n{objective}\n"
    )
}

const GAUSSIAN: &str = "method = \"gaussian\"";

fn train(dir: &Path, name: &str, text: &str, args: &[&str]) -> crate::util::Run {
    std::fs::write(dir.join(name), text).unwrap();
    let mut all = vec!["train", "--config", name];
    all.extend_from_slice(args);
    csrs(dir, &all, "")
}

/// The WRN-16-4 of the ONNX fixtures, fine-tuned with gaussian and then
/// macer-cs, given back as ONNX and certified from that file.
#[test]
fn an_onnx_network_is_fine_tuned_exported_and_certified() {
    let dir = tempfile::tempdir().unwrap();
    let network = format!("model = \"{}\"", fixture("wrn16_4.onnx"));
    let run = train(dir.path(), "g.toml", &config(&network, "m/wrn-g", 0.05, "", GAUSSIAN), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("training ") && run.stderr.contains("wrn16_4.onnx with gaussian"), "{}", run.stderr);
    let resolved = std::fs::read_to_string(dir.path().join("m/wrn-g.config.toml")).unwrap();
    assert!(resolved.contains("model = ") && !resolved.contains("architecture"), "{resolved}");

    // macer-cs from the gaussian run's checkpoint, by --from.
    let macer = "method = \"macer\"\nnoise_copies = 4\nbeta = 16.0\nlambda = 3.0\ngamma = 4.0\n\
                 cost_sensitive = { gamma_sensitive = 16.0 }";
    let text = config("architecture = \"digits-cnn\"", "m/wrn-cs", 0.01, &format!("cost = \"{}\"\n", cost()), macer);
    let run = train(dir.path(), "cs.toml", &text, &["--from", "m/wrn-g"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m/wrn-cs.json")).unwrap()).unwrap();
    assert_eq!(meta["spec"]["architecture"], "imported", "--from replaces the configuration's architecture");
    assert_eq!(meta["training"]["method"], "macer-cs");

    let run = csrs(dir.path(), &["model", "export", "m/wrn-cs", "--format", "onnx", "--out", "wrn.onnx"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let inputs = fixture("wrn16_4.json");
    let from_checkpoint = csrs(dir.path(), &["model", "logits", "m/wrn-cs", "--inputs", &inputs], "");
    let from_file = csrs(dir.path(), &["model", "logits", "wrn.onnx", "--inputs", &inputs], "");
    assert_eq!(from_file.code, Some(0), "{}", from_file.stderr);
    assert!(max_logit_difference(&from_checkpoint.stdout, &from_file.stdout) < 1e-4);
    let run = csrs(
        dir.path(),
        &[
            "certify",
            "--model",
            "wrn.onnx",
            "--dataset",
            "digits",
            "--cost",
            &cost(),
            "--sigma",
            "0.25",
            "--n0",
            "100",
            "--n",
            "500",
            "--max",
            "10",
            "--out",
            "c.tsv",
        ],
        "",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let records = std::fs::read_to_string(dir.path().join("c.tsv")).unwrap();
    assert_eq!(records.lines().filter(|line| !line.starts_with('#')).count(), 11, "a header and 10 records");
}

/// Every objective, cost-sensitive, trains a network read from ONNX (one
/// with dropout, which trains dropping).
#[test]
fn every_objective_trains_an_imported_network() {
    let dir = tempfile::tempdir().unwrap();
    let network = format!("model = \"{}\"", fixture("dropout.onnx"));
    let cost = format!("cost = \"{}\"\n", cost());
    for (name, objective) in [
        ("gaussian", "method = \"gaussian\"\ncost_sensitive = { weight = 2.0 }"),
        (
            "macer",
            "method = \"macer\"\nnoise_copies = 2\nbeta = 16.0\nlambda = 3.0\ngamma = 4.0\n\
             cost_sensitive = { gamma_sensitive = 16.0 }",
        ),
        (
            "smoothadv",
            "method = \"smoothadv\"\nnoise_copies = 2\nepsilon = 0.5\nattack_steps = 2\n\
             cost_sensitive = { weight = 2.0 }",
        ),
        (
            "smoothmix",
            "method = \"smoothmix\"\nnoise_copies = 2\nattack_steps = 2\nattack_step_size = 0.25\n\
             mix_weight = 1.0\ncost_sensitive = { weight = 2.0 }",
        ),
    ] {
        let text = config(&network, &format!("m/{name}"), 0.05, &cost, objective);
        let run = train(dir.path(), &format!("{name}.toml"), &text, &[]);
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("with {name}-cs on digits")), "{name}: {}", run.stderr);
        assert!(dir.path().join(format!("m/{name}.mpk")).exists(), "{name}");
    }
}

/// A resumed run goes on from its own checkpoint: the file it started from
/// may be gone.
#[test]
fn a_resumed_run_needs_only_its_own_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("dropout.onnx"), dir.path().join("start.onnx")).unwrap();
    let text = config("model = \"start.onnx\"", "m/r", 0.05, "", GAUSSIAN);
    let run = train(dir.path(), "r.toml", &text, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    std::fs::remove_file(dir.path().join("start.onnx")).unwrap();
    let run = train(dir.path(), "r.toml", &text.replace("epochs = 1", "epochs = 2"), &["--resume"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("epoch 2/2: loss"), "{}", run.stderr);
}

/// With batch norm frozen and a learning rate too small to move a weight,
/// the trained network computes what the file does: training starts from
/// the file's weights, and leaves the running statistics alone.
#[test]
fn training_starts_from_the_files_weights() {
    let dir = tempfile::tempdir().unwrap();
    let network = format!("model = \"{}\"", fixture("wrn16_4.onnx"));
    let text = config(&network, "m/w", 1e-12, "freeze_batch_norm = true\n", GAUSSIAN);
    let run = train(dir.path(), "t.toml", &text, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let inputs = fixture("wrn16_4.json");
    let trained = csrs(dir.path(), &["model", "logits", "m/w", "--inputs", &inputs], "");
    let expected = std::fs::read_to_string(&inputs).unwrap();
    assert!(max_logit_difference(&trained.stdout, &expected) < 1e-4);

    // Without freezing, the batches move the running statistics.
    let text = config(&network, "m/b", 1e-12, "", GAUSSIAN);
    let run = train(dir.path(), "b.toml", &text, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let trained = csrs(dir.path(), &["model", "logits", "m/b", "--inputs", &inputs], "");
    assert!(max_logit_difference(&trained.stdout, &expected) > 1e-3);
}

/// Networks that cannot be trained on the data: one line each, exit 2, and
/// nothing written.
#[test]
fn networks_that_do_not_fit_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (dataset, out) in [("ham10000", "seven"), ("mnist-5k", "mnist")] {
        let run = csrs(dir.path(), &["model", "init", "--arch", "mlp", "--dataset", dataset, "--out", out], "");
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    std::fs::write(dir.path().join("weights.pth"), b"not read").unwrap();
    let model = |path: &str| format!("model = \"{path}\"");
    for (network, extra, message) in [
        (model(&fixture("refused_operator.onnx")), "", "Tanh"),
        (model("seven"), "", "seven.json has 7 classes, expected 10"),
        (model("mnist"), "", "mnist: the model takes 1x28x28 inputs, but digits images are 1x8x8"),
        (model(&fixture("builtin/lenet5.onnx")), "", "lenet5.onnx"),
        (format!("{}\narchitecture = \"mlp\"", model("seven")), "", "both `architecture` and `model` are set"),
        (String::new(), "", "missing `architecture` (a built-in network) or `model`"),
        (model("weights.pth"), "", "import it first (csrs model import)"),
        (
            "architecture = \"digits-cnn\"".into(),
            "freeze_batch_norm = true\n",
            "freeze_batch_norm applies to imported networks",
        ),
        (model("missing.onnx"), "", "missing.onnx"),
    ] {
        let run = train(dir.path(), "r.toml", &config(&network, "out/r", 0.05, extra, GAUSSIAN), &[]);
        assert_eq!(run.code, Some(2), "{network}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{network}: {}", run.stderr);
        assert_eq!(run.stderr.trim_end().lines().count(), 1, "{network}: {}", run.stderr);
        assert!(!dir.path().join("out").exists(), "{network}: something was written");
    }
    // A run may not write over the network it starts from.
    let text = config(&model("mnist"), "mnist", 0.05, "", GAUSSIAN);
    let run = train(dir.path(), "s.toml", &text, &["--force"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("mnist.json") && run.stderr.contains("input"), "{}", run.stderr);
}
