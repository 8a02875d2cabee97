//! CIFAR-10 and CIFAR-100, in either of their published versions, found
//! under the folder the user gives:
//!
//! - the binary version (`cifar-10-batches-bin/`: `data_batch_{1..5}.bin`,
//!   `test_batch.bin`, records of one label byte and 3 072 pixel bytes;
//!   `cifar-100-binary/`: `train.bin`, `test.bin`, records of a coarse and a
//!   fine label byte and the pixels);
//! - the Python version, as torchvision downloads it
//!   (`cifar-10-batches-py/`: `data_batch_{1..5}`, `test_batch`;
//!   `cifar-100-python/`: `train`, `test`), pickled dictionaries holding a
//!   NumPy array of `uint8` pixels (`data`) and a list of labels (`labels`,
//!   `fine_labels`).
//!
//! Pixels are R, G, B planes of 32×32, as csrs lays images out.

use std::path::{Path, PathBuf};

use crate::pickle;
use crate::{DataError, Dataset, ImageShape, Result, Split};

const SHAPE: ImageShape = ImageShape { channels: 3, height: 32, width: 32 };
const PIXELS: usize = 3 * 32 * 32;

pub(crate) const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// CIFAR-100's fine labels, in label order (the `fine_label_names` of its
/// `meta` file).
pub(crate) const CIFAR100_CLASSES: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// Which of the two datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cifar {
    Ten,
    Hundred,
}

/// One published version of a dataset: where its files are and how to read
/// them.
struct Version {
    /// The sub-folder the archive unpacks to.
    folder: &'static str,
    /// The files of the training and test splits.
    train: &'static [&'static str],
    test: &'static [&'static str],
    binary: bool,
}

impl Cifar {
    fn name(self) -> &'static str {
        match self {
            Cifar::Ten => "cifar10",
            Cifar::Hundred => "cifar100",
        }
    }

    fn classes(self) -> &'static [&'static str] {
        match self {
            Cifar::Ten => &CIFAR10_CLASSES,
            Cifar::Hundred => &CIFAR100_CLASSES,
        }
    }

    /// The binary version first (the one csrs has always read), then the
    /// Python version.
    fn versions(self) -> [Version; 2] {
        const TEN_BIN: [&str; 5] =
            ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
        const TEN_PY: [&str; 5] = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"];
        match self {
            Cifar::Ten => [
                Version { folder: "cifar-10-batches-bin", train: &TEN_BIN, test: &["test_batch.bin"], binary: true },
                Version { folder: "cifar-10-batches-py", train: &TEN_PY, test: &["test_batch"], binary: false },
            ],
            Cifar::Hundred => [
                Version { folder: "cifar-100-binary", train: &["train.bin"], test: &["test.bin"], binary: true },
                Version { folder: "cifar-100-python", train: &["train"], test: &["test"], binary: false },
            ],
        }
    }

    /// Label bytes before each record's pixels in the binary version; the
    /// last one is the label (CIFAR-100: coarse, then fine).
    fn label_bytes(self) -> usize {
        match self {
            Cifar::Ten => 1,
            Cifar::Hundred => 2,
        }
    }

    /// The key of the labels in the Python version.
    fn label_key(self) -> &'static str {
        match self {
            Cifar::Ten => "labels",
            Cifar::Hundred => "fine_labels",
        }
    }
}

/// Loads a split from `dir`, which is the dataset's folder itself or the
/// folder holding it (torchvision's `root`).
pub(crate) fn load(cifar: Cifar, dir: &Path, split: Split) -> Result<Dataset> {
    let (folder, version) = find(cifar, dir, split)?;
    let files = match split {
        Split::Train => version.train,
        Split::Test => version.test,
    };
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for file in files {
        let path = folder.join(file);
        let bytes = crate::gzip::read(&path, crate::MAX_FILE_BYTES)?;
        if version.binary {
            read_binary(cifar, &path, &bytes, &mut pixels, &mut labels)?;
        } else {
            read_python(cifar, &path, &bytes, &mut pixels, &mut labels)?;
        }
    }
    let names = cifar.classes().iter().map(|&name| name.to_owned()).collect();
    Ok(Dataset::in_memory(cifar.name(), SHAPE, pixels, labels, names))
}

/// The folder and version that hold the split's first file.
fn find(cifar: Cifar, dir: &Path, split: Split) -> Result<(PathBuf, Version)> {
    for version in cifar.versions() {
        let first = match split {
            Split::Train => version.train[0],
            Split::Test => version.test[0],
        };
        for folder in [dir.to_owned(), dir.join(version.folder)] {
            if folder.join(first).is_file() {
                return Ok((folder, version));
            }
        }
    }
    let [binary, python] = cifar.versions();
    let first = |v: &Version| match split {
        Split::Train => v.train[0],
        Split::Test => v.test[0],
    };
    let message = format!(
        "no {} here: expected {} (binary version) or {} (Python version), in this folder or in {}/ or {}/",
        cifar.name(),
        first(&binary),
        first(&python),
        binary.folder,
        python.folder
    );
    Err(DataError::Empty { path: dir.to_owned(), message })
}

/// Appends the records of one binary batch file.
fn read_binary(cifar: Cifar, path: &Path, bytes: &[u8], pixels: &mut Vec<f32>, labels: &mut Vec<usize>) -> Result<()> {
    let record = cifar.label_bytes() + PIXELS;
    if bytes.is_empty() {
        return Err(DataError::corrupt(path, 0, format!("empty file, expected records of {record} bytes")));
    }
    if !bytes.len().is_multiple_of(record) {
        let offset = (bytes.len() / record * record) as u64;
        let message = format!("truncated record ({} bytes), expected {record} bytes per record", bytes.len() % record);
        return Err(DataError::corrupt(path, offset, message));
    }
    for (index, record_bytes) in bytes.chunks_exact(record).enumerate() {
        let label = i64::from(record_bytes[cifar.label_bytes() - 1]);
        push_example(cifar, label, &record_bytes[cifar.label_bytes()..], pixels, labels)
            .map_err(|message| DataError::corrupt(path, (index * record) as u64, message))?;
    }
    Ok(())
}

/// Appends the examples of one pickled batch of the Python version.
fn read_python(cifar: Cifar, path: &Path, bytes: &[u8], pixels: &mut Vec<f32>, labels: &mut Vec<usize>) -> Result<()> {
    let value = pickle::read(path, bytes)?;
    let bad = |message: String| DataError::corrupt(path, 0, message);
    let data = value.get("data").ok_or_else(|| bad("no \"data\" entry, expected a CIFAR batch dictionary".into()))?;
    let (shape, data) = data.u8_array().ok_or_else(|| bad("\"data\" is not a NumPy array of uint8 pixels".into()))?;
    let key = cifar.label_key();
    let batch_labels = value
        .get(key)
        .and_then(pickle::Value::int_list)
        .ok_or_else(|| bad(format!("no \"{key}\" list of integers")))?;
    if shape.len() != 2 || shape[1] != PIXELS || shape[0] != batch_labels.len() {
        let message = format!(
            "\"data\" has shape {shape:?} for {} labels, expected [{}, {PIXELS}]",
            batch_labels.len(),
            batch_labels.len()
        );
        return Err(bad(message));
    }
    for (index, (&label, image)) in batch_labels.iter().zip(data.chunks_exact(PIXELS)).enumerate() {
        push_example(cifar, label, image, pixels, labels)
            .map_err(|message| bad(format!("example {index}: {message}")))?;
    }
    Ok(())
}

fn push_example(
    cifar: Cifar,
    label: i64,
    image: &[u8],
    pixels: &mut Vec<f32>,
    labels: &mut Vec<usize>,
) -> std::result::Result<(), String> {
    let classes = cifar.classes().len();
    let label = usize::try_from(label)
        .ok()
        .filter(|&label| label < classes)
        .ok_or_else(|| format!("label {label}, expected 0..{classes}"))?;
    labels.push(label);
    pixels.extend(image.iter().map(|&p| f32::from(p) / 255.0));
    Ok(())
}
