//! Datasets for randomized smoothing: images with pixels in [0, 1], laid out
//! C×H×W, with labels and class names.
//!
//! Noise is added in input space, so every loader returns raw pixels scaled
//! to [0, 1]; normalisation (mean/std) belongs to the model.
//! [`load`] opens a dataset by [`DatasetName`] and [`Split`]:
//! digits and mnist-5k are compiled into the binary; MNIST (IDX), CIFAR-10
//! and CIFAR-100 (binary or Python version, as torchvision downloads them),
//! image folders (Imagenette/ImageNet style) and HAM10000 are read from a
//! folder the user gives.
//! Datasets without an official test split get a seeded, stratified one
//! ([`stratified_split`]), the same on every machine.
//!
//! The crate knows nothing about tensors: a [`Dataset`] hands out `&[f32]`
//! images that the sampling and training crates upload to their device.
//! Small datasets are held in memory; image folders decode each image when it
//! is asked for.
//!
//! ```
//! use csrs_data::{DatasetName, ImageShape, Split, load};
//!
//! // Digits is compiled in: no folder needed.
//! let dataset = load(DatasetName::Digits, Split::Test, None)?;
//! assert_eq!(dataset.shape(), ImageShape { channels: 1, height: 8, width: 8 });
//! assert_eq!(dataset.n_classes(), 10);
//! let image = dataset.image(0)?;
//! assert_eq!(image.len(), 64);
//! assert!(dataset.label(0) < 10);
//! # Ok::<(), csrs_data::DataError>(())
//! ```
#![deny(missing_docs)]

mod cifar;
mod csv_images;
mod dataset;
mod error;
mod gzip;
mod ham10000;
mod image_folder;
mod mnist_idx;
mod name;
mod pickle;
mod split;

pub use dataset::{Dataset, ImageShape};
pub use error::{DataError, Result};
pub use gzip::MAX_FILE_BYTES;
pub use name::{DatasetName, Normalization, Split, load};
pub use split::{shuffle, stratified_split};
