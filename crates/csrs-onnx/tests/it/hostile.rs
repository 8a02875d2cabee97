//! Files made to hurt: external data that points out of the model's
//! folder or at what is not a file, sizes that would exhaust memory, graphs
//! too large or malformed. Each is refused in one bounded line, at once.

use std::path::{Path, PathBuf};

use onnx_ir::{ModelProto, TensorProto};
use protobuf::Message as _;

const DIGITS: [usize; 3] = [1, 8, 8];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn fixture(name: &str) -> ModelProto {
    ModelProto::parse_from_bytes(&std::fs::read(data(name)).unwrap()).unwrap()
}

/// A fresh folder of a test's own, removed when it is dropped.
fn folder() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(path: &Path, model: &ModelProto) {
    std::fs::write(path, model.write_to_bytes().unwrap()).unwrap();
}

fn refusal(path: &Path) -> String {
    let err = csrs_onnx::read(path, DIGITS).expect_err("refused").to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.chars().count() < path.display().to_string().chars().count() + 410, "{err}");
    err
}

/// The separable fixture, whose weights are in `separable_external.data`,
/// copied into `dir` as `m.onnx` with the data file beside it, after
/// `change` is applied to its first external tensor (`pointwise.weight`,
/// 512 bytes at offset 0).
fn external_model(dir: &Path, change: impl FnOnce(&mut TensorProto)) -> PathBuf {
    std::fs::copy(data("separable_external.data"), dir.join("separable_external.data")).unwrap();
    let mut model = fixture("separable_external.onnx");
    let graph = model.graph.mut_or_insert_default();
    let tensor = graph.initializer.iter_mut().find(|t| !t.external_data.is_empty()).unwrap();
    assert_eq!(tensor.name, "pointwise.weight");
    change(tensor);
    let path = dir.join("m.onnx");
    write(&path, &model);
    path
}

fn set(tensor: &mut TensorProto, key: &str, value: &str) {
    let entry = tensor.external_data.iter_mut().find(|e| e.key == key).unwrap();
    entry.value = value.to_owned();
}

fn located(dir: &Path, location: &str) -> PathBuf {
    external_model(dir, |t| set(t, "location", location))
}

fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn external_data_inside_the_folder_is_read_through_links_that_stay_in_it() {
    let tmp = folder();
    let dir = tmp.path();
    let reference = csrs_onnx::read(&data("separable_external.onnx"), DIGITS).unwrap();
    // A link in the folder to a file in the folder, and a `./` location.
    symlink("separable_external.data", dir.join("alias.data"));
    for location in ["alias.data", "./separable_external.data"] {
        let network = csrs_onnx::read(&located(dir, location), DIGITS).unwrap();
        assert_eq!(network.weights, reference.weights, "{location}");
    }
    // A model named through a linked folder: its data is found in the
    // folder the link leads to.
    let other = folder();
    let linked = other.path().join("linked");
    symlink(dir, &linked);
    let network = csrs_onnx::read(&linked.join("m.onnx"), DIGITS).unwrap();
    assert_eq!(network.weights, reference.weights);
}

#[test]
fn locations_out_of_the_folder_are_refused_before_reading() {
    let tmp = folder();
    let dir = tmp.path();
    let elsewhere = folder();
    let outside = elsewhere.path();
    std::fs::copy(data("separable_external.data"), outside.join("w.data")).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    symlink(outside.join("w.data"), dir.join("sub/link.data"));
    symlink(outside, dir.join("linked"));
    symlink("/etc/passwd", dir.join("passwd"));
    symlink("/dev/zero", dir.join("zero"));
    let escape = format!("../{}/w.data", outside.file_name().unwrap().to_str().unwrap());
    let absolute = outside.join("w.data").display().to_string();
    let cases = [
        ("passwd", "a symbolic link leading out of the model's folder"),
        ("zero", "a symbolic link leading out of the model's folder"),
        ("sub/link.data", "a symbolic link leading out of the model's folder"),
        ("linked/w.data", "a symbolic link leading out of the model's folder"),
        (escape.as_str(), "'..' leads out of the model's folder"),
        ("sub/../separable_external.data", "'..' leads out of the model's folder"),
        ("/etc/passwd", "an absolute location; expected a file in the model's folder"),
        (absolute.as_str(), "an absolute location; expected a file in the model's folder"),
        ("missing.data", "cannot read: "),
    ];
    for (location, why) in cases {
        let err = refusal(&located(dir, location));
        assert!(
            err.contains(&format!("tensor pointwise.weight: external data {location}: {why}")),
            "{location}: {err}"
        );
    }
}

#[test]
fn what_is_not_a_regular_file_is_refused_without_waiting() {
    let tmp = folder();
    let dir = tmp.path();
    let fifo = dir.join("fifo.data");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // No writer ever opens it: reading it would wait for ever.
    let err = refusal(&located(dir, "fifo.data"));
    assert!(err.ends_with("external data fifo.data: a FIFO, socket or device, expected a regular file"), "{err}");
    std::fs::create_dir(dir.join("folder.data")).unwrap();
    let err = refusal(&located(dir, "folder.data"));
    assert!(err.ends_with("external data folder.data: a folder, expected a regular file"), "{err}");
    // The model file itself.
    let err = csrs_onnx::read(&fifo, DIGITS).expect_err("refused").to_string();
    assert!(err.ends_with("fifo.data: a FIFO, socket or device, expected a regular file"), "{err}");
    let err = csrs_onnx::read(Path::new("/dev/zero"), DIGITS).expect_err("refused").to_string();
    assert_eq!(err, "/dev/zero: a FIFO, socket or device, expected a regular file");
}

#[test]
fn declared_sizes_are_checked_against_the_file_and_the_limit_before_allocating() {
    let tmp = folder();
    let dir = tmp.path();
    let path = external_model(dir, |t| set(t, "length", "10000000000"));
    let err = refusal(&path);
    assert!(err.ends_with("length 10000000000, but the tensor's shape takes 512 bytes"), "{err}");

    let path = external_model(dir, |t| set(t, "offset", "4611686018427387904"));
    let err = refusal(&path);
    assert!(
        err.ends_with("512 bytes from offset 4611686018427387904, past the end of the file (11112 bytes)"),
        "{err}"
    );

    let path = external_model(dir, |t| set(t, "offset", "-1"));
    assert!(refusal(&path).ends_with("offset -1, expected a number of bytes"));

    // A shape of 2^31 floats with its length to match, in a sparse file
    // of 8 GiB: refused by the limit, before any of it is read.
    let path = external_model(dir, |t| {
        t.dims = vec![1 << 31];
        set(t, "length", "8589934592");
        set(t, "location", "big.data");
    });
    std::fs::File::create(dir.join("big.data")).unwrap().set_len(8 << 30).unwrap();
    let err = refusal(&path);
    assert!(
        err.ends_with("big.data: 8589934592 bytes, past the limit of 2147483648 bytes for a model with its data"),
        "{err}"
    );

    let path = external_model(dir, |t| t.dims = vec![1 << 62, 1 << 10]);
    let err = refusal(&path);
    assert!(err.contains("external data of shape [4611686018427387904, 1024], expected sides"), "{err}");
}

/// `model` with `count` ReLU nodes between its input and its first node.
fn with_relu_chain(mut model: ModelProto, count: usize) -> ModelProto {
    let graph = model.graph.mut_or_insert_default();
    let input = graph.input[0].name.clone();
    let first = graph.node[0].clone();
    let mut chain = Vec::with_capacity(count + graph.node.len());
    for k in 0..count {
        let mut relu = first.clone();
        relu.op_type = "Relu".into();
        relu.name = format!("relu{k}");
        relu.attribute.clear();
        relu.input = vec![if k == 0 { input.clone() } else { format!("chain{}", k - 1) }];
        relu.output = vec![format!("chain{k}")];
        chain.push(relu);
    }
    graph.node[0].input[0] = format!("chain{}", count - 1);
    chain.append(&mut graph.node);
    graph.node = chain;
    model
}

#[test]
fn graphs_past_the_node_limit_are_refused_at_once() {
    let tmp = folder();
    let dir = tmp.path();
    let path = dir.join("chain.onnx");
    write(&path, &with_relu_chain(fixture("vgg.onnx"), 100_000));
    let started = std::time::Instant::now();
    let err = refusal(&path);
    assert!(err.ends_with(&format!("100013 nodes, more than the limit of {}", csrs_onnx::MAX_NODES)), "{err}");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

#[test]
fn values_defined_twice_or_read_before_they_are_computed_are_refused() {
    let tmp = folder();
    let dir = tmp.path();
    let path = dir.join("m.onnx");
    // A node that reads its own output.
    let mut model = fixture("vgg.onnx");
    let graph = model.graph.mut_or_insert_default();
    let output = graph.node[1].output[0].clone();
    graph.node[1].input[0] = output.clone();
    write(&path, &model);
    let err = refusal(&path);
    assert!(err.ends_with(&format!("reads {output}, which no earlier node computes")), "{err}");
    // Two nodes that define one value.
    let mut model = fixture("vgg.onnx");
    let graph = model.graph.mut_or_insert_default();
    graph.node[3].output[0] = output.clone();
    write(&path, &model);
    let err = refusal(&path);
    assert!(err.ends_with(&format!("defines {output}, which is defined already")), "{err}");
    // Nodes out of order.
    let mut model = fixture("vgg.onnx");
    model.graph.mut_or_insert_default().node.swap(0, 1);
    write(&path, &model);
    assert!(refusal(&path).contains("which no earlier node computes"));
}

#[test]
fn opsets_outside_those_read_are_refused() {
    let tmp = folder();
    let dir = tmp.path();
    let path = dir.join("m.onnx");
    for version in [1, 12, 25, 99, -1] {
        let mut model = fixture("vgg.onnx");
        model.opset_import[0].version = version;
        write(&path, &model);
        let err = refusal(&path);
        assert!(err.ends_with(&format!(": opset {version}; supported: opsets 13 to 24")), "{err}");
    }
    let mut model = fixture("vgg.onnx");
    model.opset_import.clear();
    write(&path, &model);
    assert!(refusal(&path).ends_with(": no opset of the standard ONNX domain; supported: opsets 13 to 24"));
    // The operators csrs reads mean the same up to 24.
    let mut model = fixture("vgg.onnx");
    model.opset_import[0].version = 24;
    write(&path, &model);
    let reference = csrs_onnx::read(&data("vgg.onnx"), DIGITS).unwrap();
    assert_eq!(csrs_onnx::read(&path, DIGITS).unwrap().weights, reference.weights);
}

#[test]
fn a_reshape_to_another_batch_is_not_read_as_a_flatten() {
    let tmp = folder();
    let dir = tmp.path();
    let path = dir.join("m.onnx");
    let mut model = fixture("vgg.onnx");
    let graph = model.graph.mut_or_insert_default();
    let target = graph.node.iter().find(|n| n.op_type == "Reshape").unwrap().input[1].clone();
    let constant = graph.node.iter_mut().find(|n| n.output.first() == Some(&target)).unwrap();
    let shape = constant.attribute[0].t.as_mut().unwrap();
    let values: Vec<u8> = [1_i64 << 40, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
    shape.raw_data = values.into();
    shape.int64_data.clear();
    write(&path, &model);
    let err = refusal(&path);
    assert!(err.contains("(Reshape): to [1099511627776, -1]; supported: [batch, features]"), "{err}");
}

#[test]
fn messages_stay_one_bounded_line_whatever_the_file_holds() {
    let tmp = folder();
    let dir = tmp.path();
    let path = dir.join("m.onnx");
    let mut model = fixture("refused_operator.onnx");
    let graph = model.graph.mut_or_insert_default();
    // An attribute of a type the parser reads, twenty thousand times.
    let attribute = graph.node.iter().find(|n| n.op_type == "Flatten").unwrap().attribute[0].clone();
    let node = graph.node.iter_mut().find(|n| n.op_type == "Tanh").unwrap();
    node.name = format!("long\nname{}", "x".repeat(100_000));
    node.attribute = (0..20_000)
        .map(|k| {
            let mut a = attribute.clone();
            a.name = format!("attribute{k}");
            a
        })
        .collect();
    write(&path, &model);
    let err = refusal(&path);
    assert!(err.contains("long?namexxx") && err.ends_with("xxx…"), "{err}");
}

#[test]
fn subgraphs_are_refused_before_the_parser_builds_them() {
    let tmp = folder();
    let path = tmp.path().join("m.onnx");
    // An If whose branch holds the chain the node limit refuses at the top.
    let branch = with_relu_chain(fixture("vgg.onnx"), 100_000).graph.unwrap();
    let mut model = fixture("vgg.onnx");
    let graph = model.graph.mut_or_insert_default();
    let mut node = graph.node[1].clone();
    node.op_type = "If".into();
    node.name = "choose".into();
    let mut attribute = graph.node[0].attribute[0].clone();
    attribute.name = "then_branch".into();
    attribute.type_ = protobuf::EnumOrUnknown::from_i32(5); // GRAPH
    attribute.ints.clear();
    attribute.g = protobuf::MessageField::some(branch);
    node.attribute = vec![attribute];
    graph.node.insert(1, node);
    write(&path, &model);
    let started = std::time::Instant::now();
    let err = refusal(&path);
    assert!(err.ends_with("node choose (If) holds a subgraph; csrs runs no control flow"), "{err}");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

#[test]
fn a_constant_nodes_tensor_is_read_from_the_folder_alone() {
    let tmp = folder();
    let dir = tmp.path();
    symlink("/etc/passwd", dir.join("passwd"));
    let mut model = fixture("vgg.onnx");
    let graph = model.graph.mut_or_insert_default();
    let constant = graph.node.iter_mut().find(|n| n.op_type == "Constant").unwrap();
    let tensor = constant.attribute[0].t.as_mut().unwrap();
    let mut entry = fixture("separable_external.onnx")
        .graph
        .initializer
        .iter()
        .find_map(|t| t.external_data.first().cloned())
        .unwrap();
    entry.value = "passwd".into();
    tensor.name = "shape".into();
    tensor.external_data = vec![entry];
    tensor.data_location = protobuf::EnumOrUnknown::from_i32(1); // EXTERNAL
    tensor.raw_data = Default::default();
    tensor.int64_data.clear();
    let path = dir.join("m.onnx");
    write(&path, &model);
    let err = refusal(&path);
    assert!(
        err.ends_with("tensor shape: external data passwd: a symbolic link leading out of the model's folder"),
        "{err}"
    );
}

#[test]
fn a_reshape_reading_zero_as_zero_is_refused() {
    let tmp = folder();
    let path = tmp.path().join("m.onnx");
    let mut model = fixture("vgg.onnx");
    let graph = model.graph.mut_or_insert_default();
    let reshape = graph.node.iter_mut().find(|n| n.op_type == "Reshape").unwrap();
    reshape.attribute.iter_mut().find(|a| a.name == "allowzero").unwrap().i = 1;
    write(&path, &model);
    let err = refusal(&path);
    assert!(err.ends_with("(Reshape): allowzero = 1; supported: allowzero = 0 (PyTorch's)"), "{err}");
}
