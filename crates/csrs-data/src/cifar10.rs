//! CIFAR-10 in its binary version: records of one label byte and 3 072
//! pixel bytes (R, G, B planes of 32×32).

use std::path::Path;

use crate::{DataError, Dataset, ImageShape, Result, Split};

const SHAPE: ImageShape = ImageShape { channels: 3, height: 32, width: 32 };
const RECORD: usize = 1 + 3 * 32 * 32;
pub(crate) const CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

pub(crate) fn load(dir: &Path, split: Split) -> Result<Dataset> {
    let files: Vec<String> = match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".to_owned()],
    };
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for file in files {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).map_err(|error| DataError::io(&path, error))?;
        read_batch(&path, &bytes, &mut pixels, &mut labels)?;
    }
    let names = CLASSES.iter().map(|&name| name.to_owned()).collect();
    Ok(Dataset::in_memory("cifar10", SHAPE, pixels, labels, names))
}

/// Appends the records of one batch file.
pub(crate) fn read_batch(path: &Path, bytes: &[u8], pixels: &mut Vec<f32>, labels: &mut Vec<usize>) -> Result<()> {
    if bytes.is_empty() {
        return Err(DataError::corrupt(path, 0, "empty file, expected records of 3073 bytes"));
    }
    if !bytes.len().is_multiple_of(RECORD) {
        let offset = (bytes.len() / RECORD * RECORD) as u64;
        let message = format!("truncated record ({} bytes), expected {RECORD} bytes per record", bytes.len() % RECORD);
        return Err(DataError::corrupt(path, offset, message));
    }
    for (index, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = usize::from(record[0]);
        if label >= CLASSES.len() {
            return Err(DataError::corrupt(path, (index * RECORD) as u64, format!("label {label}, expected 0..10")));
        }
        labels.push(label);
        pixels.extend(record[1..].iter().map(|&p| f32::from(p) / 255.0));
    }
    Ok(())
}
