//! Image folders, one sub-folder per class (Imagenette/ImageNet style), and
//! the decoding of single image files: resize the shorter side to 256,
//! centre-crop 224×224, RGB in [0, 1].

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageDecoder, ImageReader};

use crate::{DataError, Dataset, ImageShape, Result, Split};

/// Every image read from a file has this shape.
pub(crate) const SHAPE: ImageShape = ImageShape { channels: 3, height: 224, width: 224 };
const RESIZE: u32 = 256;
/// Before resizing, the longer side is cut (about the centre) to at most
/// this many times the shorter one: the crop keeps less than that anyway,
/// and resizing a 1×100 000 image whole would make it 256×25 600 000 pixels
/// (20 GB). Images up to 16:1 are resized whole, as they always were.
const MAX_ASPECT: u32 = 16;
/// Bytes of decoded pixels an image file may give per byte of its own: far
/// more than photos compress to (JPEG cannot give more than about 1 400, as
/// every 8×8 block of every channel takes a bit; PNGs of photos give a few).
/// A damaged header that claims more would have the decoder fill hundreds of
/// megabytes with nothing.
const DECODED_PER_FILE_BYTE: u64 = 4096;
/// The most bytes of decoded pixels of any file: the image crate's default
/// limit.
const MAX_DECODED: u64 = 512 << 20;
const EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "JPEG"];

/// `<dir>/train/<class>/*.jpg` or `<dir>/val/<class>/*.jpg`; class names are
/// the sorted sub-folder names.
pub(crate) fn load(name: &'static str, dir: &Path, split: Split) -> Result<Dataset> {
    let root = dir.join(match split {
        Split::Train => "train",
        Split::Test => "val",
    });
    let mut classes = sorted_entries(&root)?.into_iter().filter(|path| path.is_dir()).collect::<Vec<_>>();
    classes.sort();
    if classes.is_empty() {
        return Err(DataError::Empty { path: root, message: "no class folders, expected one folder per class".into() });
    }
    let mut files = Vec::new();
    let mut labels = Vec::new();
    for (label, class_dir) in classes.iter().enumerate() {
        for file in sorted_entries(class_dir)?.into_iter().filter(|path| is_image(path)) {
            files.push(file);
            labels.push(label);
        }
    }
    if files.is_empty() {
        return Err(DataError::Empty { path: root, message: "no .jpg or .png images in the class folders".into() });
    }
    let names = classes.iter().map(|dir| dir.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
    Ok(Dataset::from_files(name, SHAPE, files, labels, names))
}

pub(crate) fn is_image(path: &Path) -> bool {
    path.extension().and_then(|ext| ext.to_str()).is_some_and(|ext| EXTENSIONS.contains(&ext))
}

pub(crate) fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|error| DataError::io(dir, error))?;
    let mut paths = entries.map(|entry| entry.map(|e| e.path())).collect::<Result<Vec<_>, _>>();
    if let Ok(paths) = &mut paths {
        paths.sort();
    }
    paths.map_err(|error| DataError::io(dir, error))
}

/// A decoder's message on one line, as every message of the crate: some
/// hold line breaks (zune-jpeg's end with one).
fn one_line(message: &str) -> String {
    message.split(['\n', '\r']).map(str::trim).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ")
}

/// One image file, decoded on demand.
pub(crate) struct FileImage<'a> {
    path: &'a Path,
    shape: ImageShape,
}

impl<'a> FileImage<'a> {
    pub(crate) fn new(path: &'a Path, shape: ImageShape) -> Self {
        FileImage { path, shape }
    }

    /// The decoded file, unless its header claims more pixels than the file
    /// can hold.
    fn read(&self) -> Result<DynamicImage> {
        let bad = |message: String| DataError::Image { path: self.path.to_owned(), message };
        let undecodable = |err: image::ImageError| bad(one_line(&err.to_string()));
        let file_len = std::fs::metadata(self.path).map_err(|error| DataError::io(self.path, error))?.len();
        let reader = ImageReader::open(self.path).map_err(|error| DataError::io(self.path, error))?;
        let decoder = reader.into_decoder().map_err(undecodable)?;
        let limit = file_len.saturating_mul(DECODED_PER_FILE_BYTE).min(MAX_DECODED);
        if decoder.total_bytes() > limit {
            let (w, h) = decoder.dimensions();
            let message = format!(
                "{w}×{h} pixels ({} bytes) in a file of {file_len} bytes, expected at most {limit} bytes \
                 ({DECODED_PER_FILE_BYTE} per byte of the file, {} MiB in all)",
                decoder.total_bytes(),
                MAX_DECODED >> 20
            );
            return Err(bad(message));
        }
        DynamicImage::from_decoder(decoder).map_err(undecodable)
    }

    /// Decodes, resizes the shorter side to 256 and centre-crops to the
    /// shape; channels first, values in [0, 1].
    pub(crate) fn decode(&self) -> Result<Vec<f32>> {
        let mut image = self.read()?.to_rgb8();
        let (w, h) = image.dimensions();
        let (kept_w, kept_h) = (w.min(h.saturating_mul(MAX_ASPECT)), h.min(w.saturating_mul(MAX_ASPECT)));
        if (kept_w, kept_h) != (w, h) {
            image = imageops::crop_imm(&image, (w - kept_w) / 2, (h - kept_h) / 2, kept_w, kept_h).to_image();
        }
        let (w, h) = image.dimensions();
        let scale = RESIZE as f32 / w.min(h) as f32;
        let (nw, nh) =
            (((w as f32 * scale).round() as u32).max(RESIZE), ((h as f32 * scale).round() as u32).max(RESIZE));
        let resized = imageops::resize(&image, nw, nh, FilterType::Triangle);
        let (cw, ch) = (self.shape.width as u32, self.shape.height as u32);
        let cropped = imageops::crop_imm(&resized, (nw - cw) / 2, (nh - ch) / 2, cw, ch).to_image();
        let plane = (cw * ch) as usize;
        let mut pixels = vec![0.0; 3 * plane];
        for (i, pixel) in cropped.pixels().enumerate() {
            for c in 0..3 {
                pixels[c * plane + i] = f32::from(pixel[c]) / 255.0;
            }
        }
        Ok(pixels)
    }
}
