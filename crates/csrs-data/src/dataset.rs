//! The dataset type: images, labels and class names.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::Result;
use crate::image_folder::FileImage;

/// The shape C×H×W of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// Channels (1 for grey, 3 for colour).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// Pixels per image, C·H·W.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether an image of this shape has no pixel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where the pixels live.
#[derive(Debug, Clone)]
enum Pixels {
    /// All images, C×H×W each, one after the other.
    Memory(Vec<f32>),
    /// One file per image, decoded when asked for.
    Files(Vec<PathBuf>),
}

/// A labelled set of images with pixels in [0, 1].
#[derive(Debug, Clone)]
pub struct Dataset {
    name: String,
    shape: ImageShape,
    pixels: Pixels,
    labels: Vec<usize>,
    class_names: Vec<String>,
}

impl Dataset {
    /// A dataset held in memory. `pixels` holds `labels.len()` images of
    /// `shape`, one after the other.
    ///
    /// # Panics
    /// If the sizes disagree or a label has no class name: loaders build
    /// datasets only from checked data.
    pub fn in_memory(
        name: impl Into<String>,
        shape: ImageShape,
        pixels: Vec<f32>,
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Self {
        assert_eq!(pixels.len(), labels.len() * shape.len(), "pixels for every label");
        assert!(labels.iter().all(|&y| y < class_names.len()), "a name for every label");
        Dataset { name: name.into(), shape, pixels: Pixels::Memory(pixels), labels, class_names }
    }

    pub(crate) fn from_files(
        name: impl Into<String>,
        shape: ImageShape,
        files: Vec<PathBuf>,
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Self {
        assert_eq!(files.len(), labels.len(), "a file for every label");
        Dataset { name: name.into(), shape, pixels: Pixels::Files(files), labels, class_names }
    }

    /// The dataset's name, e.g. `digits`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shape of every image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Class names, by class index.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// All labels, by example index.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The label of example `index`.
    ///
    /// # Panics
    /// If `index >= self.len()`.
    pub fn label(&self, index: usize) -> usize {
        self.labels[index]
    }

    /// The pixels of example `index`, C×H×W in [0, 1].
    ///
    /// # Errors
    /// For datasets read from image files, a file that cannot be read or
    /// decoded.
    ///
    /// # Panics
    /// If `index >= self.len()`.
    pub fn image(&self, index: usize) -> Result<Cow<'_, [f32]>> {
        match &self.pixels {
            Pixels::Memory(pixels) => {
                let size = self.shape.len();
                Ok(Cow::Borrowed(&pixels[index * size..(index + 1) * size]))
            }
            Pixels::Files(files) => FileImage::new(&files[index], self.shape).decode().map(Cow::Owned),
        }
    }

    /// The examples at `indices`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let pixels = match &self.pixels {
            Pixels::Memory(pixels) => {
                let size = self.shape.len();
                Pixels::Memory(indices.iter().flat_map(|&i| &pixels[i * size..(i + 1) * size]).copied().collect())
            }
            Pixels::Files(files) => Pixels::Files(indices.iter().map(|&i| files[i].clone()).collect()),
        };
        Dataset {
            name: self.name.clone(),
            shape: self.shape,
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
        }
    }
}
