//! MNIST in its original IDX files (`train-images-idx3-ubyte`, …), plain or
//! gzip-compressed (in one member or several), each at most
//! [`MAX_FILE_BYTES`].

use std::path::{Path, PathBuf};

use crate::gzip::{self, MAX_FILE_BYTES};
use crate::{DataError, Dataset, ImageShape, Result, Split};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

pub(crate) fn load(dir: &Path, split: Split) -> Result<Dataset> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let (images_path, images) = read_maybe_gz(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let (labels_path, labels) = read_maybe_gz(dir, &format!("{prefix}-labels-idx1-ubyte"))?;

    let image_dims = header(&images_path, &images, IMAGES_MAGIC, 3)?;
    let label_dims = header(&labels_path, &labels, LABELS_MAGIC, 1)?;
    let (count, height, width) = (image_dims[0], image_dims[1], image_dims[2]);
    if height == 0 || width == 0 {
        let message = format!("images of {height}×{width} pixels, expected at least one pixel");
        return Err(DataError::corrupt(&images_path, 8, message));
    }
    if label_dims[0] != count {
        let message = format!("{} labels, expected {count} (one per image)", label_dims[0]);
        return Err(DataError::corrupt(&labels_path, 4, message));
    }
    // Dimensions come from the file: a product beyond memory is corruption,
    // not an overflow.
    let len = count.checked_mul(height).and_then(|n| n.checked_mul(width)).ok_or_else(|| {
        DataError::corrupt(&images_path, 4, format!("{count}×{height}×{width} images, more values than memory holds"))
    })?;
    let pixels = body(&images_path, &images, 16, len)?;
    let label_bytes = body(&labels_path, &labels, 8, count)?;
    if let Some(at) = label_bytes.iter().position(|&y| y > 9) {
        return Err(DataError::corrupt(
            &labels_path,
            8 + at as u64,
            format!("label {}, expected 0..10", label_bytes[at]),
        ));
    }
    let shape = ImageShape { channels: 1, height, width };
    Ok(Dataset::in_memory(
        "mnist",
        shape,
        pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
        label_bytes.iter().map(|&y| usize::from(y)).collect(),
        (0..10).map(|k| k.to_string()).collect(),
    ))
}

/// Reads `name`, or `name.gz` decompressed (every member of it), each at
/// most [`MAX_FILE_BYTES`].
fn read_maybe_gz(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>)> {
    let plain = dir.join(name);
    if plain.exists() {
        let bytes = gzip::read(&plain, MAX_FILE_BYTES)?;
        return Ok((plain, bytes));
    }
    let gz = dir.join(format!("{name}.gz"));
    // Neither exists: name the plain file, the one MNIST ships as.
    let compressed = gzip::read(&gz, MAX_FILE_BYTES).map_err(|err| match err {
        DataError::Io { error, .. } => DataError::io(&plain, error),
        other => other,
    })?;
    let bytes = gzip::gunzip(&compressed, &gz, MAX_FILE_BYTES)?;
    Ok((gz, bytes))
}

/// Checks the magic number and returns the `n_dims` big-endian dimensions.
fn header(path: &Path, bytes: &[u8], magic: u32, n_dims: usize) -> Result<Vec<usize>> {
    let word = |i: usize| -> Result<u32> {
        bytes.get(4 * i..4 * i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or_else(|| {
            DataError::corrupt(path, 4 * i as u64, format!("file ends inside the header ({} bytes)", bytes.len()))
        })
    };
    let found = word(0)?;
    if found != magic {
        return Err(DataError::corrupt(path, 0, format!("magic number {found:#010x}, expected {magic:#010x}")));
    }
    (1..=n_dims).map(|i| word(i).map(|d| d as usize)).collect()
}

/// The `len` bytes of data after the header, which must end the file: bytes
/// beyond them mean the header's dimensions are not the file's.
fn body<'a>(path: &Path, bytes: &'a [u8], offset: usize, len: usize) -> Result<&'a [u8]> {
    let end = offset.saturating_add(len);
    let data = bytes.get(offset..end).ok_or_else(|| {
        let message =
            format!("file is truncated: {} bytes of data, expected {len}", bytes.len().saturating_sub(offset));
        DataError::corrupt(path, bytes.len() as u64, message)
    })?;
    if bytes.len() > end {
        let message =
            format!("{} bytes after the data the header announces, expected the file to end", bytes.len() - end);
        return Err(DataError::corrupt(path, end as u64, message));
    }
    Ok(data)
}
