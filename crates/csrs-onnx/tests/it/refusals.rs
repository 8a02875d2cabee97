//! Files csrs cannot run are refused with one line naming the file, and
//! for a node its name, its operator and what is supported.

use std::path::{Path, PathBuf};

const DIGITS: [usize; 3] = [1, 8, 8];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn refusal(path: &Path, input: [usize; 3]) -> String {
    let err = csrs_onnx::read(path, input).expect_err("refused").to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    err
}

#[test]
fn an_unsupported_operator_is_named_with_what_is_supported() {
    let err = refusal(&data("refused_operator.onnx"), DIGITS);
    assert!(err.contains("node squash (Tanh): not supported; csrs reads Conv, BatchNormalization"), "{err}");
}

#[test]
fn an_unsupported_attribute_is_named() {
    let err = refusal(&data("refused_attribute.onnx"), DIGITS);
    assert!(
        err.ends_with("node pool (MaxPool2d): ceil_mode = 1; supported: ceil_mode = 0 (PyTorch's default)"),
        "{err}"
    );
}

#[test]
fn an_unsupported_shape_is_named() {
    let err = refusal(&data("refused_shape.onnx"), DIGITS);
    assert!(err.ends_with("node side_by_side (Concat): axis 3 of rank 4; supported: the channels (axis 1)"), "{err}");
}

#[test]
fn weights_that_are_not_numbers_are_refused() {
    let err = refusal(&data("refused_nan.onnx"), DIGITS);
    assert!(err.ends_with("node conv (Conv2d): weights: a value is NaN, expected finite numbers"), "{err}");
}

#[test]
fn an_input_of_another_shape_is_refused() {
    // vgg.onnx declares [1, 1, 8, 8].
    let err = refusal(&data("vgg.onnx"), [1, 28, 28]);
    assert!(err.ends_with("the model takes [1, 8, 8] inputs, but the images are [1, 28, 28]"), "{err}");
}

#[test]
fn truncated_foreign_empty_and_oversized_files_are_refused() {
    let dir = std::env::temp_dir().join(format!("csrs-onnx-refusals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let whole = std::fs::read(data("separable.onnx")).unwrap();
    let truncated = dir.join("truncated.onnx");
    std::fs::write(&truncated, &whole[..whole.len() * 2 / 3]).unwrap();
    let err = refusal(&truncated, DIGITS);
    assert!(err.contains(": not an ONNX model csrs can read: "), "{err}");

    let foreign = dir.join("foreign.onnx");
    std::fs::write(&foreign, std::fs::read(data("separable.json")).unwrap()).unwrap();
    let err = refusal(&foreign, DIGITS);
    assert!(err.contains(": not an ONNX model csrs can read: "), "{err}");

    let empty = dir.join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    assert!(refusal(&empty, DIGITS).ends_with(": an empty file, expected an ONNX model"));

    // Sparse: its size is refused before anything is read.
    let oversized = dir.join("oversized.onnx");
    std::fs::File::create(&oversized).unwrap().set_len(csrs_onnx::MAX_FILE_BYTES + 1).unwrap();
    let err = refusal(&oversized, DIGITS);
    assert!(err.ends_with(": larger than 2147483648 bytes, the limit of an ONNX file"), "{err}");

    let missing = dir.join("missing.onnx");
    assert!(refusal(&missing, DIGITS).contains(": cannot read: "));
    std::fs::remove_dir_all(&dir).unwrap();
}
