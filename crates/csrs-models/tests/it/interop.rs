//! PyTorch checkpoints in, safetensors out: PyTorch's logits reproduced,
//! round trips exact, bad files refused with one line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use csrs_models::interop::{StateDict, export_safetensors, import};
use csrs_models::{Architecture, Classifier, ModelSpec};
use serde::Deserialize;

use super::B;
use super::graph::every_architecture;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pytorch").join(name)
}

/// What PyTorch computed for the fixtures.
#[derive(Deserialize)]
struct Expected {
    normalization: Normalization,
    input_shape: [usize; 4],
    inputs: Vec<f32>,
    logits: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct Normalization {
    mean: Vec<f32>,
    std: Vec<f32>,
}

fn expected(name: &str) -> Expected {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn cifar_spec(architecture: Architecture, normalization: &Normalization) -> ModelSpec {
    ModelSpec {
        architecture,
        n_classes: 10,
        input_shape: [3, 32, 32],
        mean: normalization.mean.clone(),
        std: normalization.std.clone(),
        graph: None,
    }
}

fn logits(model: &Classifier<B>, shape: [usize; 4], inputs: &[f32]) -> Vec<f32> {
    let images = Tensor::<B, 1>::from_floats(inputs, &Default::default()).reshape(shape);
    model.forward(images).into_data().to_vec::<f32>().unwrap()
}

fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Each row: a checkpoint file, its architecture, and PyTorch's logits for
/// the inputs stored with them. A new depth or layout is one more row.
const PYTORCH_FIXTURES: [(&str, Architecture, &str); 2] = [
    ("cifar_resnet20_cohen_format.pth.tar", Architecture::CifarResnet20, "cifar_resnet20_expected.json"),
    ("cifar_resnet20_macer_format.pth", Architecture::CifarResnet20, "cifar_resnet20_expected.json"),
];

#[test]
fn imported_checkpoints_reproduce_pytorch_logits() {
    for (file, architecture, expected_file) in PYTORCH_FIXTURES {
        let expected = expected(expected_file);
        let state = StateDict::read(&fixture(file)).unwrap();
        let spec = cifar_spec(architecture, &expected.normalization);
        let model = import::<B>(&state, &spec, &Default::default()).unwrap();
        let ours = logits(&model, expected.input_shape, &expected.inputs);
        let theirs: Vec<f32> = expected.logits.concat();
        let difference = max_abs_difference(&ours, &theirs);
        assert!(difference < 1e-4, "{file}: logits differ from PyTorch's by up to {difference}");
    }
}

#[test]
fn cohen_checkpoints_name_their_architecture() {
    let state = StateDict::read(&fixture("cifar_resnet20_cohen_format.pth.tar")).unwrap();
    assert_eq!(state.architecture(), Some("cifar_resnet20"));
    let state = StateDict::read(&fixture("cifar_resnet20_macer_format.pth")).unwrap();
    assert_eq!(state.architecture(), None);
}

#[test]
fn export_then_import_gives_the_same_model_for_every_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    for (architecture, shape) in every_architecture() {
        let spec = ModelSpec {
            architecture,
            n_classes: 5,
            input_shape: shape,
            mean: vec![0.4; shape[0]],
            std: vec![0.3; shape[0]],
            graph: None,
        };
        <B as Backend>::seed(&device, 7);
        let model = Classifier::<B>::init(&spec, &device).unwrap();
        let path = dir.path().join(format!("{architecture}.safetensors"));
        export_safetensors(&model, &spec, &[("dataset", "test".to_owned())], &path).unwrap();

        let state = StateDict::read(&path).unwrap();
        assert_eq!(state.architecture(), Some(architecture.as_str()));
        assert_eq!(state.metadata()["mean"], serde_json::to_string(&spec.mean).unwrap());
        let back = import::<B>(&state, &spec, &device).unwrap();
        let inputs: Vec<f32> = (0..2 * shape.iter().product::<usize>()).map(|i| (i % 23) as f32 / 23.0).collect();
        let batch = [2, shape[0], shape[1], shape[2]];
        assert_eq!(logits(&back, batch, &inputs), logits(&model, batch, &inputs), "{architecture}");
    }
}

#[test]
fn an_imported_checkpoint_survives_export_and_import_with_its_batch_norm_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    let expected = expected("cifar_resnet20_expected.json");
    let spec = cifar_spec(Architecture::CifarResnet20, &expected.normalization);
    let state = StateDict::read(&fixture("cifar_resnet20_macer_format.pth")).unwrap();
    let model = import::<B>(&state, &spec, &device).unwrap();
    let path = dir.path().join("resnet20.safetensors");
    export_safetensors(&model, &spec, &[], &path).unwrap();
    let back = import::<B>(&StateDict::read(&path).unwrap(), &spec, &device).unwrap();
    let ours = logits(&back, expected.input_shape, &expected.inputs);
    assert_eq!(ours, logits(&model, expected.input_shape, &expected.inputs));
    assert!(max_abs_difference(&ours, &expected.logits.concat()) < 1e-4);
}

/// Writes a safetensors file of f32 tensors (zeros) with these keys and
/// shapes.
fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>)]) {
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(key, shape)| (key.clone(), shape.clone(), vec![0; 4 * shape.iter().product::<usize>()]))
        .collect();
    let views = buffers.iter().map(|(key, shape, bytes)| {
        (key.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap())
    });
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// The keys and shapes of the fixture network, bare.
fn resnet20_keys() -> Vec<(String, Vec<usize>)> {
    let expected = expected("cifar_resnet20_expected.json");
    let spec = cifar_spec(Architecture::CifarResnet20, &expected.normalization);
    csrs_models::graph::Graph::of(&spec).parameters().into_iter().map(|p| (p.torch, p.shape)).collect()
}

fn import_error(path: &Path, architecture: Architecture) -> String {
    let expected = expected("cifar_resnet20_expected.json");
    let spec = cifar_spec(architecture, &expected.normalization);
    let result = StateDict::read(path).and_then(|state| import::<B>(&state, &spec, &Default::default()));
    let message = result.expect_err("a bad file is refused").to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(message.contains(&path.display().to_string()), "names the file: {message}");
    message
}

#[test]
fn bad_files_are_refused_with_one_line_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cohen = fixture("cifar_resnet20_cohen_format.pth.tar");

    // Truncated: half a zip archive.
    let truncated = dir.path().join("truncated.pth");
    let bytes = std::fs::read(&cohen).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let message = import_error(&truncated, Architecture::CifarResnet20);
    assert!(message.contains("not a PyTorch checkpoint"), "{message}");

    // Not PyTorch at all.
    let text = dir.path().join("notes.pth");
    std::fs::write(&text, "these are not weights\n").unwrap();
    assert!(import_error(&text, Architecture::CifarResnet20).contains("not a PyTorch checkpoint"));
    let text = dir.path().join("notes.safetensors");
    std::fs::write(&text, "these are not weights either\n").unwrap();
    assert!(import_error(&text, Architecture::CifarResnet20).contains("not a safetensors file"));

    // The wrong depth: ResNet-56 needs blocks ResNet-20 does not have.
    let message = import_error(&cohen, Architecture::CifarResnet56);
    assert!(
        message.contains("does not fit cifar-resnet56: 180 missing keys (state_dict.1.module.layer1.3.conv1.weight,"),
        "{message}"
    );

    // The wrong network altogether.
    let message = import_error(&cohen, Architecture::Mlp);
    assert!(message.contains("unknown layout: no tensor fc1.weight"), "{message}");

    // A tensor of the wrong shape.
    let mut keys = resnet20_keys();
    keys.iter_mut().find(|(k, _)| k == "layer2.0.conv1.weight").unwrap().1 = vec![32, 16, 5, 5];
    let reshaped = dir.path().join("reshaped.safetensors");
    write_safetensors(&reshaped, &keys);
    let message = import_error(&reshaped, Architecture::CifarResnet20);
    assert!(
        message.ends_with(
            "tensor layer2.0.conv1.weight has shape [32, 16, 5, 5], but cifar-resnet20 expects [32, 16, 3, 3] there"
        ),
        "{message}"
    );

    // Unexpected and missing keys together.
    let mut keys = resnet20_keys();
    keys.retain(|(k, _)| k != "fc.bias");
    keys.push(("fc2.weight".to_owned(), vec![10, 64]));
    let odd = dir.path().join("odd.safetensors");
    write_safetensors(&odd, &keys);
    let message = import_error(&odd, Architecture::CifarResnet20);
    assert!(
        message.ends_with("does not fit cifar-resnet20: 1 missing keys (fc.bias), 1 unexpected keys (fc2.weight)"),
        "{message}"
    );

    // An unknown layout.
    let prefixed: Vec<_> = resnet20_keys().into_iter().map(|(k, s)| (format!("encoder.{k}"), s)).collect();
    let encoder = dir.path().join("encoder.safetensors");
    write_safetensors(&encoder, &prefixed);
    let message = import_error(&encoder, Architecture::CifarResnet20);
    assert!(message.contains("unknown layout: no tensor conv1.weight"), "{message}");
    assert!(message.contains("encoder.bn1.bias"), "lists the keys it found: {message}");

    // A missing file.
    let message = import_error(&dir.path().join("absent.pth"), Architecture::CifarResnet20);
    assert!(message.contains("absent.pth"), "{message}");
}

#[test]
fn non_finite_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = resnet20_keys();
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = keys
        .iter()
        .map(|(key, shape)| {
            let value = if key == "bn1.running_var" { f32::NAN } else { 0.5 };
            (key.clone(), shape.clone(), value.to_le_bytes().repeat(shape.iter().product()))
        })
        .collect();
    let views = buffers.iter().map(|(key, shape, bytes)| {
        (key.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap())
    });
    let path = dir.path().join("nan.safetensors");
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    let message = import_error(&path, Architecture::CifarResnet20);
    assert!(message.ends_with("tensor bn1.running_var holds NaN, expected finite numbers"), "{message}");
}

#[test]
fn a_csrs_export_needs_no_other_information() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ModelSpec {
        architecture: Architecture::DigitsCnn,
        n_classes: 10,
        input_shape: [1, 8, 8],
        mean: vec![0.3],
        std: vec![0.4],
        graph: None,
    };
    let model = Classifier::<B>::init(&spec, &Default::default()).unwrap();
    let path = dir.path().join("digits.safetensors");
    export_safetensors(&model, &spec, &[("dataset", "digits".to_owned())], &path).unwrap();
    let state = StateDict::read(&path).unwrap();
    let metadata: HashMap<&str, &str> = state.metadata().iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(metadata["architecture"], "digits-cnn");
    assert_eq!(metadata["dataset"], "digits");
    assert_eq!(metadata["std"], "[0.4]");
    assert_eq!(state.shape("fc2.weight"), Some(vec![10, 64]), "PyTorch's [outputs, inputs]");
    assert_eq!(state.shape("conv1.weight"), Some(vec![16, 1, 3, 3]));
}

/// One entry of a hand-made zip archive: its name, compression method (0
/// stored, 8 deflated), the bytes stored, and the sizes and CRC its headers
/// declare.
struct ZipEntry {
    name: &'static str,
    method: u16,
    data: Vec<u8>,
    crc32: u32,
    declared_size: u32,
}

/// A zip archive of `entries`, written by hand so that the sizes it
/// declares can be anything.
fn zip_archive(entries: &[ZipEntry]) -> Vec<u8> {
    let (mut out, mut directory) = (Vec::new(), Vec::new());
    for entry in entries {
        let offset = out.len() as u32;
        let common = |bytes: &mut Vec<u8>| {
            for half in [20u16, 0, entry.method, 0, 0x21] {
                bytes.extend(half.to_le_bytes());
            }
            for word in [entry.crc32, entry.data.len() as u32, entry.declared_size] {
                bytes.extend(word.to_le_bytes());
            }
            bytes.extend((entry.name.len() as u16).to_le_bytes());
            bytes.extend(0u16.to_le_bytes());
        };
        out.extend(0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend(entry.name.as_bytes());
        out.extend(&entry.data);
        directory.extend(0x0201_4b50u32.to_le_bytes());
        directory.extend(20u16.to_le_bytes());
        common(&mut directory);
        for half in [0u16, 0, 0] {
            directory.extend(half.to_le_bytes());
        }
        directory.extend(0u32.to_le_bytes());
        directory.extend(offset.to_le_bytes());
        directory.extend(entry.name.as_bytes());
    }
    let (start, size) = (out.len() as u32, directory.len() as u32);
    out.extend(directory);
    out.extend(0x0605_4b50u32.to_le_bytes());
    for half in [0u16, 0, entries.len() as u16, entries.len() as u16] {
        out.extend(half.to_le_bytes());
    }
    for word in [size, start] {
        out.extend(word.to_le_bytes());
    }
    out.extend(0u16.to_le_bytes());
    out
}

/// Raw deflate of `bytes`, as zip stores it.
fn deflated(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Zip bombs imported as checkpoints: refused from the archive's directory,
/// or once an entry inflates past what it declares, before burn-store
/// reserves or reads the declared sizes.
#[test]
fn zip_bombs_are_refused_before_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let limit = csrs_models::interop::MAX_IMPORT_BYTES;
    let empty = deflated(b"");
    // Two entries of a few bytes each declaring almost 4 GiB: 8 GiB in all.
    let declared = |name| ZipEntry { name, method: 8, data: empty.clone(), crc32: 0, declared_size: 0xffff_fff0 };
    let bomb = dir.path().join("bomb.pth");
    std::fs::write(&bomb, zip_archive(&[declared("archive/data.pkl"), declared("archive/data/0")])).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 4096);
    let message = StateDict::read(&bomb).unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "cannot import {}: its entries decompress to more than {limit} bytes, the limit of an imported file",
            bomb.display()
        )
    );

    // An entry that declares 1 000 bytes and inflates to 64 MiB.
    let zeros = vec![0u8; 64 << 20];
    let lying = ZipEntry { name: "archive/data.pkl", method: 8, data: deflated(&zeros), crc32: 0, declared_size: 1000 };
    let liar = dir.path().join("liar.pth");
    std::fs::write(&liar, zip_archive(&[lying])).unwrap();
    let message = StateDict::read(&liar).unwrap_err().to_string();
    assert!(
        message.ends_with("entry archive/data.pkl decompresses to more than the 1000 bytes it declares"),
        "{message}"
    );
    assert!(!message.contains('\n'));
}
