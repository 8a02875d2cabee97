//! Reading dataset files, plain or gzip-compressed, within a size limit.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::{DataError, Result};

/// The most bytes one dataset file may hold, read as it is or after
/// decompression: 1 GiB. MNIST's largest file is 47 MB and EMNIST's 0.55 GB;
/// a dataset is held in memory as `f32`, four times its bytes. A file, or a
/// gzip stream (a few kilobytes can inflate to terabytes), beyond it is
/// refused before more than the limit is held.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The bytes of the file at `path`, at most `limit` of them.
pub(crate) fn read(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|error| DataError::io(path, error))?;
    read_bounded(file, path, limit)
}

/// `compressed` decompressed, every member of it, as gunzip reads it: pigz
/// and `cat a.gz b.gz` write files of several members. At most `limit`
/// bytes; `path` names the source in errors.
pub(crate) fn gunzip(compressed: &[u8], path: &Path, limit: u64) -> Result<Vec<u8>> {
    read_bounded(MultiGzDecoder::new(compressed), path, limit)
}

fn read_bounded(reader: impl Read, path: &Path, limit: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|error| DataError::io(path, error))?;
    if bytes.len() as u64 > limit {
        return Err(DataError::TooLarge { path: path.to_owned(), limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn every_member_is_read_up_to_the_limit() {
        let path = Path::new("t.gz");
        let two = [gzip(b"abc"), gzip(b""), gzip(b"de")].concat();
        assert_eq!(gunzip(&two, path, 5).unwrap(), b"abcde");
        let err = gunzip(&two, path, 4).unwrap_err().to_string();
        assert_eq!(err, "t.gz: larger than 4 bytes (decompressed), the limit of a dataset file");
        // A bomb: 64 MiB of zeros from about 64 KiB, refused at 1 MiB.
        let bomb = gzip(&vec![0; 64 << 20]);
        assert!(bomb.len() < 128 << 10);
        assert!(matches!(gunzip(&bomb, path, 1 << 20), Err(DataError::TooLarge { limit: 1_048_576, .. })));
        assert!(gunzip(b"not gzip", path, 100).is_err());
    }
}
