//! `csrs model import|export|logits` and certification of a PyTorch
//! checkpoint imported on the fly.

use std::path::{Path, PathBuf};

use crate::util::{csrs, max_logit_difference, repo_root};

fn fixture(name: &str) -> String {
    repo_root().join("crates/csrs-models/tests/data/pytorch").join(name).display().to_string()
}

#[test]
fn imported_models_print_pytorch_logits_and_export_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let expected_path = fixture("cifar_resnet20_expected.json");
    let expected = std::fs::read_to_string(&expected_path).unwrap();

    // Cohen et al.'s layout names its architecture; MACER's needs --arch.
    let cohen = fixture("cifar_resnet20_cohen_format.pth.tar");
    let run = csrs(dir.path(), &["model", "import", &cohen, "--dataset", "cifar10", "--out", "m/cohen"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run = csrs(dir.path(), &["model", "logits", "m/cohen", "--inputs", &expected_path], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(max_logit_difference(&run.stdout, &expected) < 1e-4);

    let macer = fixture("cifar_resnet20_macer_format.pth");
    let args =
        ["model", "logits", &macer, "--arch", "cifar-resnet20", "--dataset", "cifar10", "--inputs", &expected_path];
    let run = csrs(dir.path(), &args, "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(max_logit_difference(&run.stdout, &expected) < 1e-4);

    // Export, and import the export: architecture and normalisation travel
    // in the file's metadata.
    let run =
        csrs(dir.path(), &["model", "export", "m/cohen", "--format", "safetensors", "--out", "cohen.safetensors"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let args = ["model", "import", "cohen.safetensors", "--dataset", "cifar10", "--out", "m/back"];
    assert_eq!(csrs(dir.path(), &args, "").code, Some(0));
    let original = csrs(dir.path(), &["model", "logits", "m/cohen", "--inputs", &expected_path], "").stdout;
    let back = csrs(dir.path(), &["model", "logits", "m/back", "--inputs", &expected_path], "").stdout;
    assert_eq!(original, back);
}

#[test]
fn a_pytorch_checkpoint_is_certified_directly() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar_test_batch(&dir.path().join("cifar"), 3);
    let cohen = fixture("cifar_resnet20_cohen_format.pth.tar");
    let cost = repo_root().join("configs/costs/cifar10-seed-cat.toml").display().to_string();
    let args = [
        "certify",
        "--model",
        &cohen,
        "--dataset",
        "cifar10",
        "--data-dir",
        "cifar",
        "--cost",
        &cost,
        "--sigma",
        "0.25",
        "--n0",
        "100",
        "--n",
        "200",
        "--batch",
        "200",
        "--out",
        "r.tsv",
    ];
    let run = csrs(dir.path(), &args, "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let records = std::fs::read_to_string(dir.path().join("r.tsv")).unwrap();
    assert_eq!(records.lines().count(), 1 + 3, "a header and one record per image:\n{records}");

    // --arch that does not fit the weights: one line, exit 2, no records.
    let mut wrong = args.to_vec();
    wrong.extend(["--arch", "cifar-resnet110"]);
    *wrong.iter_mut().find(|a| **a == "r.tsv").unwrap() = "wrong.tsv";
    let run = csrs(dir.path(), &wrong, "");
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("does not fit cifar-resnet110"), "{}", run.stderr);
    assert!(!dir.path().join("wrong.tsv").exists());
}

#[test]
fn bad_imports_fail_with_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let macer = fixture("cifar_resnet20_macer_format.pth");
    let expected_path = fixture("cifar_resnet20_expected.json");
    std::fs::write(dir.path().join("half.pth"), &std::fs::read(&macer).unwrap()[..1000]).unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["model", "import", &macer, "--dataset", "cifar10", "--out", "m"],
            "does not name its architecture; give --arch",
        ),
        (
            &["model", "import", "half.pth", "--arch", "cifar-resnet20", "--dataset", "cifar10", "--out", "m"],
            "not a PyTorch checkpoint",
        ),
        (
            &["model", "import", &macer, "--arch", "cifar-resnet56", "--dataset", "cifar10", "--out", "m"],
            "180 missing keys",
        ),
        (
            &["model", "import", &macer, "--arch", "cifar-resnet20", "--dataset", "mnist", "--out", "m"],
            "cifar-resnet20 takes 32x32 inputs, got 1x28x28",
        ),
        (
            &[
                "model",
                "import",
                &macer,
                "--arch",
                "cifar-resnet20",
                "--dataset",
                "cifar10",
                "--mean",
                "0.5",
                "--out",
                "m",
            ],
            "normalisation has 1 means and 3 stds",
        ),
        (&["model", "logits", &macer, "--arch", "cifar-resnet20", "--inputs", &expected_path], "needs --dataset"),
    ];
    for (args, message) in cases {
        let run = csrs(dir.path(), args, "");
        assert_eq!(run.code, Some(2), "{args:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(!dir.path().join("m.json").exists() && !dir.path().join("m.mpk").exists());
    }
}

/// A CIFAR-10 test batch (binary version) of `n` images with pixels that
/// vary, in `dir/test_batch.bin`.
fn write_cifar_test_batch(dir: &Path, n: usize) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut bytes = Vec::new();
    for i in 0..n {
        bytes.push((i % 10) as u8);
        bytes.extend((0..3072).map(|p| ((p * 7 + i * 13) % 256) as u8));
    }
    let path = dir.join("test_batch.bin");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A zip archive of two empty deflated entries whose headers each declare
/// almost 4 GiB: 8 GiB to inflate from a few hundred bytes.
fn zip_bomb() -> Vec<u8> {
    let (mut out, mut directory) = (Vec::new(), Vec::new());
    let empty_deflate = [3u8, 0];
    for name in ["archive/data.pkl", "archive/data/0"] {
        let offset = out.len() as u32;
        let mut header = Vec::new();
        for half in [20u16, 0, 8, 0, 0x21] {
            header.extend(half.to_le_bytes());
        }
        for word in [0u32, empty_deflate.len() as u32, 0xffff_fff0] {
            header.extend(word.to_le_bytes());
        }
        header.extend([name.len() as u16, 0].iter().flat_map(|h| h.to_le_bytes()));
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend(&header);
        out.extend(name.as_bytes());
        out.extend(empty_deflate);
        directory.extend(0x0201_4b50u32.to_le_bytes());
        directory.extend(20u16.to_le_bytes());
        directory.extend(&header);
        directory.extend([0u8; 10]);
        directory.extend(offset.to_le_bytes());
        directory.extend(name.as_bytes());
    }
    let (start, size) = (out.len() as u32, directory.len() as u32);
    out.extend(directory);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u16, 0, 2, 2].iter().flat_map(|h| h.to_le_bytes()));
    out.extend([size, start].iter().flat_map(|w| w.to_le_bytes()));
    out.extend(0u16.to_le_bytes());
    out
}

#[test]
fn a_zip_bomb_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bomb.pth"), zip_bomb()).unwrap();
    let args = ["model", "import", "bomb.pth", "--arch", "cifar-resnet20", "--dataset", "cifar10", "--out", "m"];
    let run = csrs(dir.path(), &args, "");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "csrs: error: cannot import bomb.pth: its entries decompress to more than 4294967296 bytes, the limit of an imported file\n"
    );
    assert!(!dir.path().join("m.json").exists());
}
