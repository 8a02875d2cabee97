//! The tensors of a weights file, by key: a PyTorch checkpoint (read with
//! burn-store's PyTorch reader) or a safetensors file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{DType, TensorData};
use burn_store::TensorSnapshot;
use burn_store::pytorch::PytorchReader;
use burn_store::pytorch::reader::PickleValue;

use crate::{ModelError, Result};

/// The largest weights file imported, and the most a zip archive's entries
/// may decompress to: 4 GiB. A PyTorch checkpoint holds a network's state
/// and often its optimiser's: a network at [`crate::MAX_PARAMETERS`] in
/// `f32` (1 GiB) with Adam's two moments is 3 GiB. Checked before the file
/// is read, so that a zip bomb or a mistaken file is refused unread.
pub const MAX_IMPORT_BYTES: u64 = 1 << 32;

/// One tensor of a weights file, read when asked for.
enum Entry {
    /// From a PyTorch checkpoint, materialised on demand.
    Torch(TensorSnapshot),
    /// From a safetensors file, already in memory.
    Loaded(TensorData),
}

/// The tensors of a weights file, by their flattened key: nested
/// dictionaries are joined with dots, so Cohen et al.'s checkpoints give
/// `state_dict.1.module.conv1.weight`.
pub struct StateDict {
    path: PathBuf,
    entries: HashMap<String, Entry>,
    architecture: Option<String>,
    metadata: HashMap<String, String>,
}

impl std::fmt::Debug for StateDict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDict").field("path", &self.path).field("tensors", &self.entries.len()).finish()
    }
}

impl StateDict {
    /// Reads a weights file: `.safetensors` by its extension, anything else
    /// as a PyTorch checkpoint (zip from PyTorch ≥ 1.6, legacy, or tar).
    ///
    /// A file larger than [`MAX_IMPORT_BYTES`], or a zip archive whose
    /// entries decompress to more, is refused before it is read.
    ///
    /// # Errors
    /// [`ModelError::Import`] naming the file when it cannot be read or is
    /// not such a file, [`ModelError::FileTooLarge`] or
    /// [`ModelError::ArchiveTooLarge`] beyond the limit.
    pub fn read(path: &Path) -> Result<Self> {
        if !path.is_file() {
            let error = std::fs::metadata(path).err().unwrap_or_else(|| std::io::Error::other("not a regular file"));
            return Err(ModelError::Io { path: path.to_owned(), error });
        }
        let size = std::fs::metadata(path).map_err(|error| ModelError::Io { path: path.to_owned(), error })?.len();
        if size > MAX_IMPORT_BYTES {
            let what = "an imported weights file";
            return Err(ModelError::FileTooLarge { path: path.to_owned(), what, limit: MAX_IMPORT_BYTES });
        }
        if path.extension().is_some_and(|e| e == "safetensors") { read_safetensors(path) } else { read_pytorch(path) }
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.entries.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    /// Whether the file holds a tensor under `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// The architecture the file names, if any: the `arch` entry of a
    /// PyTorch checkpoint (e.g. `cifar_resnet110`), or the `architecture`
    /// metadata of a safetensors file that csrs wrote.
    pub fn architecture(&self) -> Option<&str> {
        self.architecture.as_deref()
    }

    /// A safetensors file's metadata (empty for PyTorch checkpoints).
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// The shape of the tensor under `key`.
    pub fn shape(&self, key: &str) -> Option<Vec<usize>> {
        self.entries.get(key).map(|entry| match entry {
            Entry::Torch(snapshot) => snapshot.shape.to_vec(),
            Entry::Loaded(data) => data.shape.to_vec(),
        })
    }

    /// The values of the tensor under `key` as `f32`, whatever type the
    /// file stores them in.
    ///
    /// # Errors
    /// [`ModelError::Import`] when the key is absent or the data cannot be
    /// read (a truncated file).
    pub fn values(&self, key: &str) -> Result<Vec<f32>> {
        let data = match self.entries.get(key) {
            Some(Entry::Torch(snapshot)) => {
                snapshot.to_data().map_err(|err| self.error(format!("tensor {key}: {err}")))?
            }
            Some(Entry::Loaded(data)) => data.clone(),
            None => return Err(self.error(format!("no tensor {key}"))),
        };
        if matches!(data.dtype, DType::Bool(_) | DType::QFloat(_)) {
            return Err(self.error(format!("tensor {key} holds {:?}, expected numbers", data.dtype)));
        }
        data.convert::<f32>().into_vec::<f32>().map_err(|err| self.error(format!("tensor {key}: {err:?}")))
    }

    fn error(&self, message: String) -> ModelError {
        ModelError::Import { path: self.path.clone(), message }
    }
}

fn read_pytorch(path: &Path) -> Result<StateDict> {
    let bad = |message: String| ModelError::Import { path: path.to_owned(), message };
    check_archive(path, MAX_IMPORT_BYTES)?;
    let reader =
        PytorchReader::new(path).map_err(|err| bad(format!("not a PyTorch checkpoint ({})", one_line(&err))))?;
    let architecture = match PytorchReader::read_pickle_data(path, Some("arch")) {
        Ok(PickleValue::String(name)) => Some(name),
        _ => None,
    };
    let entries: HashMap<String, Entry> =
        reader.into_tensors().into_iter().map(|(key, snapshot)| (key, Entry::Torch(snapshot))).collect();
    if entries.is_empty() {
        return Err(bad("a PyTorch file without tensors, expected a checkpoint or state dict".to_owned()));
    }
    Ok(StateDict { path: path.to_owned(), entries, architecture, metadata: HashMap::new() })
}

/// Refuses a zip archive (a PyTorch ≥ 1.6 checkpoint) whose entries
/// decompress to more than `limit` bytes, before any entry is read:
/// burn-store reserves an entry's declared size before reading it. The
/// declared sizes come from the archive's directory; a compressed entry is
/// then decompressed (and dropped) up to its declared size, to hold it to
/// that size. A file that is not a zip archive is left to the other
/// formats' readers.
pub(crate) fn check_archive(path: &Path, limit: u64) -> Result<()> {
    let bad = |message: String| ModelError::Import { path: path.to_owned(), message };
    let file = std::fs::File::open(path).map_err(|error| ModelError::Io { path: path.to_owned(), error })?;
    let Ok(mut archive) = zip::ZipArchive::new(std::io::BufReader::new(file)) else { return Ok(()) };
    let mut total = 0u64;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|err| bad(format!("not a PyTorch checkpoint ({err})")))?;
        total = total.saturating_add(entry.size());
        if total > limit {
            return Err(ModelError::ArchiveTooLarge { path: path.to_owned(), limit });
        }
    }
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|err| bad(format!("not a PyTorch checkpoint ({err})")))?;
        if entry.compression() == zip::CompressionMethod::Stored || entry.is_dir() {
            continue;
        }
        let (name, declared) = (entry.name().to_owned(), entry.size());
        let mut bounded = std::io::Read::take(&mut entry, declared.saturating_add(1));
        let inflated = std::io::copy(&mut bounded, &mut std::io::sink())
            .map_err(|err| bad(format!("entry {name}: {}", one_line(&err))))?;
        if inflated > declared {
            return Err(bad(format!("entry {name} decompresses to more than the {declared} bytes it declares")));
        }
    }
    Ok(())
}

fn read_safetensors(path: &Path) -> Result<StateDict> {
    let bad = |message: String| ModelError::Import { path: path.to_owned(), message };
    let bytes = std::fs::read(path).map_err(|error| ModelError::Io { path: path.to_owned(), error })?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|err| bad(format!("not a safetensors file ({err})")))?;
    let tensors =
        safetensors::SafeTensors::deserialize(&bytes).map_err(|err| bad(format!("not a safetensors file ({err})")))?;
    let mut entries = HashMap::new();
    for (key, view) in tensors.tensors() {
        let dtype = match view.dtype() {
            safetensors::Dtype::F64 => DType::F64,
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F16 => DType::F16,
            safetensors::Dtype::BF16 => DType::BF16,
            safetensors::Dtype::I64 => DType::I64,
            safetensors::Dtype::I32 => DType::I32,
            other => return Err(bad(format!("tensor {key} holds {other:?}, expected floats or integers"))),
        };
        let data = TensorData::from_bytes_vec(view.data().to_vec(), view.shape().to_vec(), dtype);
        entries.insert(key, Entry::Loaded(data));
    }
    let metadata = header.metadata().clone().unwrap_or_default();
    let architecture = metadata.get("architecture").cloned();
    Ok(StateDict { path: path.to_owned(), entries, architecture, metadata })
}

/// The first line of an error, so that messages stay one line.
fn one_line(err: &dyn std::fmt::Display) -> String {
    err.to_string().lines().next().unwrap_or_default().to_owned()
}
