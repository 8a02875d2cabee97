//! Networks exported to ONNX, read into csrs's layer description.
//!
//! `torch.onnx.export` is the portable way out of PyTorch. [`read`] parses
//! a file with burn's ONNX parser (`onnx-ir`) and maps its nodes onto a
//! [`Graph`] and its weights, so that the CPU engine compiles it and burn's
//! backends interpret it as they do csrs's own networks: any CNN made of
//! the operators below is certifiable without csrs knowing its
//! architecture.
//!
//! Operators read: Conv (2-d; groups, strides, pads, dilations, bias or
//! none), BatchNormalization, Relu, LeakyRelu, Sigmoid, Add, Sub, Mul, Div
//! (of two values of one shape, or of a value and a constant, which is how
//! a normalisation appears; not a constant divided by a value), MaxPool, AveragePool (padding counted or not),
//! GlobalAveragePool, Flatten, Reshape to `[batch, features]`, Gemm,
//! MatMul, Concat (on the channels), Dropout (applied in training, nothing
//! at inference) and Identity. Opsets 13 to 24 ([`OPSETS`]), at most [`MAX_NODES`] nodes;
//! the batch axis may be dynamic or fixed. Weights stored beside the file
//! are read by csrs itself, only from the model file's folder.
//!
//! Anything else is refused with the node's name, its operator and what is
//! supported, before anything is computed.
//!
//! [`encode`] goes the other way: any network csrs holds (its own
//! architectures and graphs it read) out as an ONNX model of opset
//! [`WRITTEN_OPSET`] with a dynamic batch, made of the operators above, so
//! that PyTorch and onnxruntime run what csrs trained.
//!
//! ```
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vgg.onnx");
//! let network = csrs_onnx::read(std::path::Path::new(path), [1, 8, 8])?;
//! assert_eq!(network.graph.outputs(), 10);
//! # Ok::<(), csrs_onnx::OnnxError>(())
//! ```

mod convert;
mod dropout;
mod external;
mod file;
mod names;
mod structure;
mod write;

use std::collections::HashMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use csrs_models::graph::Graph;
use csrs_models::{Architecture, ModelSpec};
use protobuf::Message as _;
pub use structure::{MAX_NODES, OPSETS};
pub use write::{WRITTEN_OPSET, encode};

/// The largest ONNX file read, with the weights it keeps beside it: 2 GiB,
/// about protobuf's own limit on one message and twice the weights of a
/// network at [`csrs_models::MAX_PARAMETERS`]. Reading one holds up to
/// three times its size at once (its bytes, decoded, and the parser's).
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// A network read from an ONNX file.
#[derive(Debug, Clone)]
pub struct OnnxNetwork {
    /// Its layers, after the input (which the file's graph takes in
    /// [0, 1] as it is: any normalisation is among the layers).
    pub graph: Graph,
    /// Its tensors, by the PyTorch names of
    /// [`Graph::parameters_stored`]`(true)`, in PyTorch's layout.
    pub weights: HashMap<String, Vec<f32>>,
}

/// Why an ONNX file cannot be read: the file and one line saying what is
/// wrong (for a node: its name, its operator and what is supported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnnxError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for OnnxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for OnnxError {}

/// Reads the network in the ONNX file at `path` for inputs of `input`
/// (`[channels, height, width]`, the dataset's), which the file's input
/// must admit.
///
/// # Errors
/// [`OnnxError`]: a file that cannot be read, is larger than
/// [`MAX_FILE_BYTES`], is not an ONNX model (truncated, or another format),
/// holds an operator, attribute or shape csrs does not run, weights that are
/// not finite, or an input of another shape.
pub fn read(path: &Path, input: [usize; 3]) -> Result<OnnxNetwork, OnnxError> {
    read_as(path, input, Produces::Logits)
}

/// What a network's output must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Produces {
    /// Logits `[batch, classes]`, at least 2: a classifier.
    Logits,
    /// Images of the input's shape: a denoiser.
    Image,
}

/// Reads a denoiser in the ONNX file at `path`, as [`read`] reads a
/// classifier: a network whose output is an image of its input's shape
/// `input` (pixels in, pixels out).
///
/// # Errors
/// As [`read`]; an output of another shape.
pub fn read_denoiser(path: &Path, input: [usize; 3]) -> Result<OnnxNetwork, OnnxError> {
    read_as(path, input, Produces::Image)
}

fn read_as(path: &Path, input: [usize; 3], produces: Produces) -> Result<OnnxNetwork, OnnxError> {
    let fail = |message: String| OnnxError { path: path.to_owned(), message: bounded(&message) };
    let too_large = || fail(format!("larger than {MAX_FILE_BYTES} bytes, the limit of an ONNX file"));
    // Resolved once: the file read is the one whose folder holds its data.
    let real = std::fs::canonicalize(path).map_err(|err| fail(format!("cannot read: {err}")))?;
    let folder = real.parent().ok_or_else(|| fail("not a file".into()))?;
    let (file, size) = file::open_regular(&real).map_err(fail)?;
    if size > MAX_FILE_BYTES {
        return Err(too_large());
    }
    // Read through the bound too: a file that grows meanwhile is not read
    // past it either.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|err| fail(format!("cannot read: {err}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    read_bytes(bytes, folder, input, produces).map_err(fail)
}

/// [`read`] on the bytes of a file in `folder` (canonical); the error is
/// the message alone.
fn read_bytes(bytes: Vec<u8>, folder: &Path, input: [usize; 3], produces: Produces) -> Result<OnnxNetwork, String> {
    if bytes.is_empty() {
        return Err("an empty file, expected an ONNX model".into());
    }
    let not_onnx =
        |err: &dyn fmt::Display| format!("not an ONNX model csrs can read: {}", first_line(&err.to_string()));
    let mut model = onnx_ir::ModelProto::parse_from_bytes(&bytes).map_err(|err| not_onnx(&err))?;
    structure::check(&model)?;
    let names = names::FileNames::of(&model);
    // The parser is handed bytes, never a path, so that it reads no other
    // file: weights stored beside the model are copied in first.
    let changed = external::inline(&mut model, folder, bytes.len() as u64)? + dropout::keep(&mut model);
    let bytes = if changed == 0 {
        bytes
    } else {
        drop(bytes);
        model.write_to_bytes().map_err(|err| not_onnx(&err))?
    };
    drop(model);
    let graph = guarded(|| onnx_ir::OnnxGraphBuilder::new().parse_bytes(&bytes).map_err(|err| not_onnx(&err)))?;
    drop(bytes);
    guarded(std::panic::AssertUnwindSafe(|| convert::convert(&graph, &names, input, produces)))
}

/// What `work` returns. The parser panics on some malformed files
/// (negative pads, for one), while parsing or when a weight is read: a
/// panic is caught and reported as what it says, so that no file can abort
/// csrs, and it is kept off stderr (only on this thread, while `work`
/// runs: any other panic is reported by the hook that was there before).
fn guarded<T>(work: impl FnOnce() -> Result<T, String> + std::panic::UnwindSafe) -> Result<T, String> {
    static QUIET_WHILE_PARSING: std::sync::Once = std::sync::Once::new();
    QUIET_WHILE_PARSING.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !PARSING.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    PARSING.with(|parsing| parsing.set(true));
    let done = std::panic::catch_unwind(work);
    PARSING.with(|parsing| parsing.set(false));
    done.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("malformed");
        Err(format!("not an ONNX model csrs can read: {}", first_line(what)))
    })
}

thread_local! {
    /// Whether this thread is in the parser, whose panics are reported as
    /// errors.
    static PARSING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The longest message of an [`OnnxError`], in characters: a file can
/// make a name or a parser's message of any length.
const MAX_MESSAGE_CHARS: usize = 400;

/// `message` on one line of at most [`MAX_MESSAGE_CHARS`] characters.
fn bounded(message: &str) -> String {
    let line = shown(first_line(message));
    match line.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => line,
        Some((end, _)) => format!("{}…", &line[..end]),
    }
}

/// `name` with control characters (a line break in a name written by any
/// program) shown as `?`, so that a message stays one line.
pub(crate) fn shown(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

impl OnnxNetwork {
    /// The spec of this network: the graph's input and logits, and no
    /// normalisation of its own (the file's graph does what its network
    /// does); give `mean` and `std` to add one before it.
    pub fn spec(&self, mean: Option<Vec<f32>>, std: Option<Vec<f32>>) -> ModelSpec {
        let channels = self.graph.input[0];
        ModelSpec {
            architecture: Architecture::Imported,
            n_classes: self.graph.outputs(),
            input_shape: self.graph.input,
            mean: mean.unwrap_or_else(|| vec![0.0; channels]),
            std: std.unwrap_or_else(|| vec![1.0; channels]),
            graph: Some(self.graph.clone()),
        }
    }
}
