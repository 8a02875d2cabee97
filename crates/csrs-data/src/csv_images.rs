//! Images stored as gzip-compressed CSV: pixel values, then the label.
//! This is how digits and mnist-5k ship inside the binary.

use std::path::Path;

use crate::gzip::{self, MAX_FILE_BYTES};
use crate::{DataError, Dataset, ImageShape, Result};

/// The layout of one CSV image file.
pub(crate) struct CsvImages {
    pub(crate) name: &'static str,
    pub(crate) shape: ImageShape,
    /// The largest pixel value: pixels are divided by it.
    pub(crate) max_value: f32,
    pub(crate) n_classes: usize,
}

impl CsvImages {
    /// Parses gzip-compressed CSV (every member, at most
    /// [`MAX_FILE_BYTES`] decompressed); `path` only names the source in
    /// errors.
    pub(crate) fn parse_gz(&self, bytes: &[u8], path: &Path) -> Result<Dataset> {
        let bytes = gzip::gunzip(bytes, path, MAX_FILE_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|err| {
            let offset = err.utf8_error().valid_up_to() as u64;
            DataError::corrupt(path, offset, "not UTF-8 text, expected CSV")
        })?;
        self.parse(&text, path)
    }

    fn parse(&self, text: &str, path: &Path) -> Result<Dataset> {
        let size = self.shape.len();
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
            let bad = |message: String| DataError::Line { path: path.to_owned(), line: index + 1, message };
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            if cells.len() != size + 1 {
                return Err(bad(format!("{} values, expected {} pixels and a label", cells.len(), size + 1)));
            }
            for cell in &cells[..size] {
                let value: f32 = cell.parse().map_err(|_| bad(format!("pixel {cell:?} is not a number")))?;
                if !(0.0..=self.max_value).contains(&value) {
                    return Err(bad(format!("pixel {value} outside 0..={}", self.max_value)));
                }
                pixels.push(value / self.max_value);
            }
            let label: usize = cells[size]
                .parse()
                .ok()
                .filter(|&y| y < self.n_classes)
                .ok_or_else(|| bad(format!("label {:?}, expected 0..{}", cells[size], self.n_classes)))?;
            labels.push(label);
        }
        let names = (0..self.n_classes).map(|k| k.to_string()).collect();
        Ok(Dataset::in_memory(self.name, self.shape, pixels, labels, names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: CsvImages = CsvImages {
        name: "tiny",
        shape: ImageShape { channels: 1, height: 1, width: 2 },
        max_value: 16.0,
        n_classes: 3,
    };

    #[test]
    fn parses_and_scales() {
        let data = TINY.parse("0,16,2\n8,4,0\n", Path::new("t.csv")).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(&*data.image(0).unwrap(), &[0.0, 1.0]);
        assert_eq!(&*data.image(1).unwrap(), &[0.5, 0.25]);
        assert_eq!(data.labels(), &[2, 0]);
    }

    #[test]
    fn names_the_bad_line() {
        let cases = [
            ("0,1,2\n0,1\n", "t.csv: line 2: 2 values, expected 3"),
            ("0,x,2\n", "t.csv: line 1: pixel \"x\" is not a number"),
            ("0,17,2\n", "pixel 17 outside 0..=16"),
            ("0,1,3\n", "label \"3\", expected 0..3"),
        ];
        for (text, message) in cases {
            let err = TINY.parse(text, Path::new("t.csv")).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
    }
}
