//! ONNX models: PyTorch's logits through `model logits`, certified from
//! the file and after `model import` (the same records), on the engine and
//! on burn, and refused with one line.

use crate::util::{csrs, max_logit_difference, repo_root};

fn fixture(name: &str) -> String {
    repo_root().join("crates/csrs-onnx/tests/data").join(name).display().to_string()
}

#[test]
fn every_fixture_prints_pytorchs_logits_from_the_file_and_after_import() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["wrn16_4", "vgg", "separable", "gemm", "dropout"] {
        let (model, inputs) = (fixture(&format!("{name}.onnx")), fixture(&format!("{name}.json")));
        let expected = std::fs::read_to_string(&inputs).unwrap();
        let run = csrs(dir.path(), &["model", "logits", &model, "--inputs", &inputs], "");
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        let difference = max_logit_difference(&run.stdout, &expected);
        assert!(difference < 1e-4, "{name}: {difference}");

        let out = format!("m/{name}");
        let run = csrs(dir.path(), &["model", "import", &model, "--dataset", "digits", "--out", &out], "");
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        let run = csrs(dir.path(), &["model", "logits", &out, "--inputs", &inputs], "");
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert!(max_logit_difference(&run.stdout, &expected) < 1e-4, "{name} imported");
    }
    // `model show` prints the imported network's layers.
    let run = csrs(dir.path(), &["model", "show", "m/separable"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let meta: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(meta["spec"]["architecture"], "imported");
    let ops: Vec<String> = meta["spec"]["graph"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| match &node["op"] {
            serde_json::Value::String(unit) => unit.clone(),
            op => op.as_object().unwrap().keys().next().unwrap().clone(),
        })
        .collect();
    for op in ["conv2d", "activation", "binary", "avg_pool2d", "concat", "global_avg_pool", "linear"] {
        assert!(ops.iter().any(|o| o == op), "{op} not in {ops:?}");
    }
}

fn certify(dir: &std::path::Path, model: &str, engine: &str, out: &str) -> String {
    let cost = repo_root().join("configs/costs/digits-3-to-8.toml").display().to_string();
    let args = [
        "certify",
        "--model",
        model,
        "--dataset",
        "digits",
        "--cost",
        &cost,
        "--sigma",
        "0.25",
        "--n0",
        "50",
        "--n",
        "400",
        "--batch",
        "200",
        "--max",
        "3",
        "--engine",
        engine,
        "--out",
        out,
    ];
    let run = csrs(dir, &args, "");
    assert_eq!(run.code, Some(0), "{model} {engine}: {}", run.stderr);
    let records = std::fs::read_to_string(dir.join(out)).unwrap();
    assert_eq!(records.lines().count(), 1 + 3, "{records}");
    // Every column but the time each example took.
    records.lines().map(|line| line.rsplit_once('\t').unwrap().0.to_owned() + "\n").collect()
}

#[test]
fn an_onnx_model_is_certified_from_the_file_and_after_import_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("wrn16_4.onnx");
    let run = csrs(dir.path(), &["model", "import", &model, "--dataset", "digits", "--out", "m/wrn"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for engine in ["native", "burn"] {
        let direct = certify(dir.path(), &model, engine, &format!("direct-{engine}.tsv"));
        let imported = certify(dir.path(), "m/wrn", engine, &format!("imported-{engine}.tsv"));
        assert_eq!(direct, imported, "{engine}");
    }
}

#[test]
fn bad_onnx_models_fail_with_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cost = repo_root().join("configs/costs/digits-3-to-8.toml").display().to_string();
    let vgg = fixture("vgg.onnx");
    let cases: [(&str, &str, &str); 4] = [
        ("refused_operator.onnx", "digits", "node squash (Tanh): not supported"),
        ("refused_nan.onnx", "digits", "weights: a value is NaN"),
        ("vgg.onnx", "mnist-5k", "the model takes [1, 8, 8] inputs, but the images are [1, 28, 28]"),
        ("separable.json", "digits", "not an ONNX model"),
    ];
    for (file, dataset, message) in cases {
        let model = if file.ends_with(".json") {
            let copy = dir.path().join("foreign.onnx");
            std::fs::copy(fixture(file), &copy).unwrap();
            copy.display().to_string()
        } else {
            fixture(file)
        };
        let import = ["model", "import", &model, "--dataset", dataset, "--out", "m"];
        let certify =
            ["certify", "--model", &model, "--dataset", dataset, "--cost", &cost, "--sigma", "0.25", "--out", "r.tsv"];
        for args in [&import[..], &certify[..]] {
            let run = csrs(dir.path(), args, "");
            assert_eq!(run.code, Some(2), "{args:?}");
            assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
            assert!(!dir.path().join("m.json").exists() && !dir.path().join("r.tsv").exists());
        }
    }
    let run = csrs(dir.path(), &["model", "import", &vgg, "--arch", "lenet5", "--dataset", "digits", "--out", "m"], "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("an ONNX file holds its own layers"), "{}", run.stderr);
}

#[test]
fn predict_plan_and_bench_take_an_onnx_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("separable.onnx");
    let args = ["predict", "--model", &model, "--dataset", "digits", "--sigma", "0.25", "--n", "200", "--max", "3"];
    let run = csrs(dir.path(), &[&args[..], &["--out", "p.tsv"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("p.tsv")).unwrap().lines().count(), 1 + 3);

    let args =
        ["plan", "--sigma", "0.25", "--alpha", "0.001", "--n", "10000", "--model", &model, "--dataset", "digits"];
    let run = csrs(dir.path(), &[&args[..], &["--examples", "10"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("samples/s on cpu"), "{}", run.stderr);

    let args = ["bench", "--model", &model, "--dataset", "digits", "--samples", "400", "--batch", "200"];
    let run = csrs(dir.path(), &args, "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let row: Vec<&str> = run.stdout.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!((row[0], row[1]), (model.as_str(), "1x8x8"), "{}", run.stdout);
}

/// A copy of the separable fixture with external weights in `dir/m.onnx`
/// whose first tensor's data is at `location`, the rest beside it.
fn external_model(dir: &std::path::Path, location: &str) {
    use onnx_ir::ModelProto;
    use protobuf::Message as _;
    std::fs::copy(fixture("separable_external.data"), dir.join("separable_external.data")).unwrap();
    let mut model = ModelProto::parse_from_bytes(&std::fs::read(fixture("separable_external.onnx")).unwrap()).unwrap();
    let tensor =
        model.graph.mut_or_insert_default().initializer.iter_mut().find(|t| !t.external_data.is_empty()).unwrap();
    tensor.external_data.iter_mut().find(|e| e.key == "location").unwrap().value = location.to_owned();
    std::fs::write(dir.join("m.onnx"), model.write_to_bytes().unwrap()).unwrap();
}

#[test]
fn external_data_out_of_the_models_folder_is_refused_by_every_route_and_command() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", models.join("passwd")).unwrap();
    let inputs = fixture("separable.json");
    let cost = repo_root().join("configs/costs/digits-3-to-8.toml").display().to_string();
    // Named bare in its folder, with `./`, from a folder beside it with
    // `../`, and absolutely: the same refusal.
    let absolute = models.join("m.onnx").display().to_string();
    let routes =
        [(models.clone(), "m.onnx"), (models.clone(), "./m.onnx"), (dir.path().join("other"), "../models/m.onnx")];
    std::fs::create_dir(dir.path().join("other")).unwrap();
    for location in ["passwd", "/etc/passwd", "../../../../../../etc/passwd"] {
        external_model(&models, location);
        for (cwd, model) in routes.iter().map(|(cwd, m)| (cwd, *m)).chain([(&models, absolute.as_str())]) {
            let commands: [&[&str]; 3] = [
                &["model", "logits", model, "--inputs", &inputs],
                &["model", "import", model, "--dataset", "digits", "--out", "imported"],
                &[
                    "certify",
                    "--model",
                    model,
                    "--dataset",
                    "digits",
                    "--cost",
                    &cost,
                    "--sigma",
                    "0.25",
                    "--out",
                    "r.tsv",
                ],
            ];
            for args in commands {
                let run = csrs(cwd, args, "");
                assert_eq!(run.code, Some(2), "{location} {args:?}: {}", run.stderr);
                assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
                assert!(
                    run.stderr.contains(&format!("tensor pointwise.weight: external data {location}: ")),
                    "{location} {args:?}: {}",
                    run.stderr
                );
                assert!(run.stdout.is_empty(), "{}", run.stdout);
                assert!(!cwd.join("imported.json").exists() && !cwd.join("r.tsv").exists());
            }
        }
    }
    // The data in the folder is read by a bare name.
    external_model(&models, "separable_external.data");
    let run = csrs(&models, &["model", "logits", "m.onnx", "--inputs", &inputs], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let expected = std::fs::read_to_string(&inputs).unwrap();
    assert!(max_logit_difference(&run.stdout, &expected) < 1e-4);
}

#[test]
fn inputs_whose_shape_overflows_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("vgg.onnx");
    for (shape, why) in [
        ("[4294967296, 4294967296, 1, 1]", "more values than csrs can hold"),
        ("[18446744073709551615, 2, 1, 1]", "more values than csrs can hold"),
        ("[0, 1, 8, 8]", "expected sides of 1 or more"),
    ] {
        std::fs::write(dir.path().join("in.json"), format!("{{\"input_shape\": {shape}, \"inputs\": []}}")).unwrap();
        let run = csrs(dir.path(), &["model", "logits", &model, "--inputs", "in.json"], "");
        assert_eq!(run.code, Some(2), "{shape}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(why), "{shape}: {}", run.stderr);
    }
}

#[test]
fn any_checkpoint_exported_as_onnx_prints_its_own_logits() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = repo_root().join("models/digits-gaussian-025").display().to_string();
    let separable = fixture("separable.onnx");
    let run = csrs(dir.path(), &["model", "import", &separable, "--dataset", "digits", "--out", "m/separable"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let inputs = fixture("vgg.json");
    // A built-in architecture with its normalisation, and an imported graph.
    for (model, out) in [(shipped.as_str(), "digits.onnx"), ("m/separable", "separable.onnx")] {
        let run = csrs(dir.path(), &["model", "export", model, "--format", "onnx", "--out", out], "");
        assert_eq!(run.code, Some(0), "{model}: {}", run.stderr);
        assert!(run.stderr.contains("as ONNX"), "{}", run.stderr);
        let expected = csrs(dir.path(), &["model", "logits", model, "--inputs", &inputs], "");
        assert_eq!(expected.code, Some(0), "{model}: {}", expected.stderr);
        let exported = csrs(dir.path(), &["model", "logits", out, "--inputs", &inputs], "");
        assert_eq!(exported.code, Some(0), "{out}: {}", exported.stderr);
        let difference = max_logit_difference(&exported.stdout, &expected.stdout);
        assert!(difference < 1e-4, "{model}: {difference}");
    }

    // An existing file is kept, and safetensors still has no layout for an
    // imported graph.
    let before = std::fs::read(dir.path().join("digits.onnx")).unwrap();
    let run = csrs(dir.path(), &["model", "export", &shipped, "--format", "onnx", "--out", "digits.onnx"], "");
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(std::fs::read(dir.path().join("digits.onnx")).unwrap(), before);
    let run = csrs(dir.path(), &["model", "export", "m/separable", "--out", "separable.safetensors"], "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("the ONNX file it came from is its export"), "{}", run.stderr);
    assert!(!dir.path().join("separable.safetensors").exists());
}
