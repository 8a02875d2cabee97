//! Datasets by name, and the one entry point that loads them.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::cifar::{self, Cifar};
use crate::csv_images::CsvImages;
use crate::{DataError, Dataset, ImageShape, Result, ham10000, image_folder, mnist_idx, stratified_split};

static DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");
static MNIST_5K_CSV_GZ: &[u8] = include_bytes!("../data/mnist_5k.csv.gz");

/// The fixed seed of the splits made for datasets that have none.
const SPLIT_SEED: u64 = 0;

/// The datasets csrs knows (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetName {
    /// UCI optical digits, 1×8×8, embedded; split 1 297 train / 500 test.
    Digits,
    /// 5 000 MNIST images, 1×28×28, embedded; split 4 000 / 1 000.
    Mnist5k,
    /// MNIST from its IDX files.
    Mnist,
    /// CIFAR-10, binary or Python version.
    Cifar10,
    /// CIFAR-100 (fine labels), binary or Python version.
    Cifar100,
    /// Imagenette: an image folder with `train/` and `val/`.
    Imagenette,
    /// ImageNet: an image folder with `train/` and `val/`.
    Imagenet,
    /// HAM10000 skin lesions: metadata CSV and image folders.
    Ham10000,
}

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Training examples.
    Train,
    /// Held-out examples, for certification.
    Test,
}

impl DatasetName {
    /// All names, in the order `--help` lists them.
    pub const ALL: [DatasetName; 8] = [
        DatasetName::Digits,
        DatasetName::Mnist5k,
        DatasetName::Mnist,
        DatasetName::Cifar10,
        DatasetName::Cifar100,
        DatasetName::Imagenette,
        DatasetName::Imagenet,
        DatasetName::Ham10000,
    ];

    /// The name users type.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Digits => "digits",
            DatasetName::Mnist5k => "mnist-5k",
            DatasetName::Mnist => "mnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Cifar100 => "cifar100",
            DatasetName::Imagenette => "imagenette",
            DatasetName::Imagenet => "imagenet",
            DatasetName::Ham10000 => "ham10000",
        }
    }

    /// Whether the data is compiled into the binary (no folder needed).
    pub fn is_embedded(self) -> bool {
        matches!(self, DatasetName::Digits | DatasetName::Mnist5k)
    }

    /// The class names of datasets with a fixed set of classes; `None` for
    /// image folders, whose classes are their sub-folders.
    pub fn class_names(self) -> Option<Vec<String>> {
        let names: Vec<String> = match self {
            DatasetName::Digits | DatasetName::Mnist5k | DatasetName::Mnist => (0..10).map(|k| k.to_string()).collect(),
            DatasetName::Cifar10 => cifar::CIFAR10_CLASSES.iter().map(|&c| c.to_owned()).collect(),
            DatasetName::Cifar100 => cifar::CIFAR100_CLASSES.iter().map(|&c| c.to_owned()).collect(),
            DatasetName::Ham10000 => ham10000::CLASSES.iter().map(|&c| c.to_owned()).collect(),
            DatasetName::Imagenette | DatasetName::Imagenet => return None,
        };
        Some(names)
    }

    /// The shape of every image, known without loading.
    pub fn shape(self) -> ImageShape {
        match self {
            DatasetName::Digits => ImageShape { channels: 1, height: 8, width: 8 },
            DatasetName::Mnist5k | DatasetName::Mnist => ImageShape { channels: 1, height: 28, width: 28 },
            DatasetName::Cifar10 | DatasetName::Cifar100 => ImageShape { channels: 3, height: 32, width: 32 },
            DatasetName::Imagenette | DatasetName::Imagenet | DatasetName::Ham10000 => image_folder::SHAPE,
        }
    }
}

/// Per-channel pixel statistics: what a model's normalisation layer
/// subtracts and divides by.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Per-channel mean of pixels in [0, 1].
    pub mean: Vec<f32>,
    /// Per-channel standard deviation.
    pub std: Vec<f32>,
}

impl DatasetName {
    /// The usual normalisation for the dataset: computed over all of digits,
    /// the customary MNIST and CIFAR-10 values (as in Cohen et al.'s code),
    /// and ImageNet's for the 224-pixel datasets.
    pub fn normalization(self) -> Normalization {
        let (mean, std): (&[f32], &[f32]) = match self {
            DatasetName::Digits => (&[0.3053], &[0.376]),
            DatasetName::Mnist5k | DatasetName::Mnist => (&[0.1307], &[0.3081]),
            DatasetName::Cifar10 => (&[0.4914, 0.4822, 0.4465], &[0.2023, 0.1994, 0.2010]),
            DatasetName::Cifar100 => (&[0.5071, 0.4865, 0.4409], &[0.2673, 0.2564, 0.2762]),
            DatasetName::Imagenette | DatasetName::Imagenet | DatasetName::Ham10000 => {
                (&[0.485, 0.456, 0.406], &[0.229, 0.224, 0.225])
            }
        };
        Normalization { mean: mean.to_vec(), std: std.to_vec() }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;

    fn from_str(name: &str) -> Result<Self> {
        DatasetName::ALL
            .into_iter()
            .find(|d| d.as_str() == name)
            .ok_or_else(|| DataError::UnknownDataset(name.to_owned()))
    }
}

/// Loads a split of a dataset; `data_dir` is required unless the dataset is
/// embedded.
///
/// # Errors
/// [`DataError`] naming the missing folder, or the file and place of corrupt
/// data.
///
/// # Examples
/// ```
/// use csrs_data::{DatasetName, Split, load};
/// let test = load(DatasetName::Digits, Split::Test, None)?;
/// assert_eq!((test.len(), test.n_classes()), (500, 10));
/// assert!(test.image(0)?.iter().all(|p| (0.0..=1.0).contains(p)));
/// # Ok::<(), csrs_data::DataError>(())
/// ```
pub fn load(name: DatasetName, split: Split, data_dir: Option<&Path>) -> Result<Dataset> {
    let embedded = |csv: CsvImages, bytes: &[u8], test_size: usize| -> Result<Dataset> {
        let all = csv.parse_gz(bytes, Path::new(csv.name))?;
        let (train, test) = stratified_split(all.labels(), test_size, SPLIT_SEED);
        Ok(all.subset(match split {
            Split::Train => &train,
            Split::Test => &test,
        }))
    };
    let dir = || data_dir.ok_or(DataError::NoDataDir { dataset: name.as_str() });
    match name {
        DatasetName::Digits => embedded(
            CsvImages { name: "digits", shape: name.shape(), max_value: 16.0, n_classes: 10 },
            DIGITS_CSV_GZ,
            500,
        ),
        DatasetName::Mnist5k => embedded(
            CsvImages { name: "mnist-5k", shape: name.shape(), max_value: 255.0, n_classes: 10 },
            MNIST_5K_CSV_GZ,
            1000,
        ),
        DatasetName::Mnist => mnist_idx::load(dir()?, split),
        DatasetName::Cifar10 => cifar::load(Cifar::Ten, dir()?, split),
        DatasetName::Cifar100 => cifar::load(Cifar::Hundred, dir()?, split),
        DatasetName::Imagenette | DatasetName::Imagenet => image_folder::load(name.as_str(), dir()?, split),
        DatasetName::Ham10000 => ham10000::load(dir()?, split),
    }
}
