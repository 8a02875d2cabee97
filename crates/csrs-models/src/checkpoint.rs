//! Checkpoints: `<stem>.mpk` (the weights, a burn record) and `<stem>.json`
//! (metadata: how to rebuild the model and what it was trained for).
//!
//! Both files are written to a temporary name and renamed into place, so a
//! crash never leaves a half-written file; the new weights go in under
//! their own name first and replace the old ones only after the new
//! metadata is in place, so a crash never leaves metadata without the
//! weights it describes ([`TrainingFiles::incoming_weights`]).
//! The metadata holds a checksum of the model spec and the weight bytes:
//! burn panics when a record does not fit the module it is loaded into, so a
//! truncated weights file, a weights file from another checkpoint, or edited
//! metadata is caught before the weights are deserialized.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use csrs_artifacts::TrainingFiles;
use serde::{Deserialize, Serialize};

use crate::{Classifier, Denoiser, DenoiserSpec, ModelError, ModelSpec, Result};

/// The metadata format this version writes and reads.
const FORMAT: u32 = 1;

/// How a model was trained (absent for a randomly initialised model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// The training noise level σ.
    pub sigma: f64,
    /// The training method, e.g. `macer-cs`.
    pub method: String,
    /// Epochs completed.
    pub epoch: usize,
    /// A hash of the resolved training configuration.
    pub config_hash: String,
    /// The fingerprint of the optimiser's state saved with this epoch: a
    /// resumed run refuses a state from another run (burn would load it
    /// silently, dropping what does not fit). Absent in older checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer_fingerprint: Option<String>,
    /// The training noise as configs name it (`gaussian` or `sound`), so a
    /// certification with the other noise can say so: a model trained on one
    /// is not tuned to the other. A name, not the sampler's type, since this
    /// crate sits below the sampler. Absent in older checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<String>,
}

/// What `<stem>.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointMeta {
    /// The metadata format version.
    pub format: u32,
    /// The model's structure and normalisation.
    pub spec: ModelSpec,
    /// The dataset the model is for.
    pub dataset: String,
    /// Class names, by class index.
    pub class_names: Vec<String>,
    /// How it was trained, if it was.
    pub training: Option<TrainingInfo>,
    /// The PyTorch or safetensors file it was imported from, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
    /// FNV-1a of the spec (as JSON) and the weight bytes, in hex; written by
    /// [`Checkpoint::save`].
    #[serde(default)]
    pub checksum: String,
}

impl CheckpointMeta {
    /// Reads only the metadata of the checkpoint at `path` (with or without
    /// its extension): what it is, without loading its weights.
    ///
    /// # Errors
    /// [`ModelError`] naming the file: missing, or not csrs metadata.
    pub fn read(path: &Path) -> Result<Self> {
        read_meta(&TrainingFiles::new(path).metadata())
    }

    /// Metadata for a model built from `spec` for `dataset`.
    pub fn new(spec: ModelSpec, dataset: impl Into<String>, class_names: Vec<String>) -> Self {
        CheckpointMeta {
            format: FORMAT,
            spec,
            dataset: dataset.into(),
            class_names,
            training: None,
            imported_from: None,
            checksum: String::new(),
        }
    }
}

/// A model with its metadata.
#[derive(Debug)]
pub struct Checkpoint<B: Backend> {
    /// What the model is.
    pub meta: CheckpointMeta,
    /// The model.
    pub model: Classifier<B>,
}

impl<B: Backend> Checkpoint<B> {
    /// Writes `<stem>.json` and `<stem>.mpk`, each through a temporary file
    /// and in the order that keeps the pair loadable at every step
    /// ([`TrainingFiles::incoming_weights`]).
    ///
    /// # Errors
    /// [`ModelError::Io`] when a file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        save_files(path, &self.model, &self.meta.spec, |checksum| CheckpointMeta { checksum, ..self.meta.clone() })
    }

    /// Reads a checkpoint; `expected_classes` is the class count the caller
    /// needs, when known.
    ///
    /// # Errors
    /// [`ModelError`] naming the file: missing, not csrs metadata, weights
    /// that are truncated or belong to another architecture, or a class
    /// count other than `expected_classes`.
    pub fn load(path: &Path, expected_classes: Option<usize>, device: &B::Device) -> Result<Self> {
        let files = TrainingFiles::new(path);
        let meta_path = files.metadata();
        let meta: CheckpointMeta = read_meta(&meta_path)?;
        if let Some(expected) = expected_classes.filter(|&m| m != meta.spec.n_classes) {
            return Err(ModelError::ClassCount { path: meta_path, found: meta.spec.n_classes, expected });
        }
        let fresh = |meta: &CheckpointMeta| Classifier::<B>::init(&meta.spec, device);
        let (model, weights_path) =
            load_weights(&files, &meta, fresh, |fresh, record| fresh.load_checked(&meta.spec, record), device)?;
        // A consistent pair of files written by another version of a network
        // can still hold tensors of other shapes.
        if ParamShapes::of(&model) != ParamShapes::of(&fresh(&meta)?) {
            let message =
                format!("weight shapes differ from those of {} (written by another version?)", meta.spec.architecture);
            return Err(ModelError::Weights { path: weights_path, message });
        }
        Ok(Checkpoint { meta, model })
    }
}

/// What a denoiser's `<stem>.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenoiserMeta {
    /// The metadata format version.
    pub format: u32,
    /// The denoiser's structure.
    pub denoiser: DenoiserSpec,
    /// The dataset whose images it denoises.
    pub dataset: String,
    /// How it was trained, if it was.
    pub training: Option<TrainingInfo>,
    /// The file it was imported from, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
    /// FNV-1a of the spec (as JSON) and the weight bytes, in hex; written by
    /// [`DenoiserCheckpoint::save`].
    #[serde(default)]
    pub checksum: String,
}

impl DenoiserMeta {
    /// Metadata for a denoiser built from `denoiser` for `dataset`.
    pub fn new(denoiser: DenoiserSpec, dataset: impl Into<String>) -> Self {
        DenoiserMeta {
            format: FORMAT,
            denoiser,
            dataset: dataset.into(),
            training: None,
            imported_from: None,
            checksum: String::new(),
        }
    }

    /// Reads only the metadata of the denoiser's checkpoint at `path`.
    ///
    /// # Errors
    /// [`ModelError`] naming the file: missing, or not a denoiser's metadata.
    pub fn read(path: &Path) -> Result<Self> {
        read_meta(&TrainingFiles::new(path).metadata())
    }
}

/// A denoiser with its metadata, in the files of a classifier's checkpoint
/// (`<stem>.json`, `<stem>.mpk`), told apart by the metadata's `denoiser`
/// key where a classifier's has `spec`.
#[derive(Debug)]
pub struct DenoiserCheckpoint<B: Backend> {
    /// What the denoiser is.
    pub meta: DenoiserMeta,
    /// The denoiser.
    pub model: Denoiser<B>,
}

impl<B: Backend> DenoiserCheckpoint<B> {
    /// Writes `<stem>.json` and `<stem>.mpk`, each through a temporary file
    /// and in the order that keeps the pair loadable at every step
    /// ([`TrainingFiles::incoming_weights`]).
    ///
    /// # Errors
    /// [`ModelError::Io`] when a file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        save_files(path, &self.model, &self.meta.denoiser, |checksum| DenoiserMeta { checksum, ..self.meta.clone() })
    }

    /// Reads a denoiser's checkpoint.
    ///
    /// # Errors
    /// [`ModelError`] naming the file: missing, not a denoiser's metadata
    /// (a classifier's is named as such), or weights that are truncated or
    /// of another network.
    pub fn load(path: &Path, device: &B::Device) -> Result<Self> {
        let files = TrainingFiles::new(path);
        let meta: DenoiserMeta = read_meta(&files.metadata())?;
        let fresh = |meta: &DenoiserMeta| Denoiser::<B>::init(&meta.denoiser, device);
        let (model, _) = load_weights(
            &files,
            &meta,
            fresh,
            |fresh, record| {
                Denoiser::record_fits(&record, &meta.denoiser)?;
                Ok(fresh.load_record(record))
            },
            device,
        )?;
        Ok(DenoiserCheckpoint { meta, model })
    }
}

/// The metadata of either kind of checkpoint, with its checksum.
trait Metadata: serde::de::DeserializeOwned {
    /// What the other kind is called, and the key that tells it.
    const OTHER: (&'static str, &'static str);

    /// The structure the checksum covers with the weights.
    type Spec: Serialize;

    fn spec(&self) -> &Self::Spec;

    fn format(&self) -> u32;

    fn checksum(&self) -> &str;

    /// Checks what serde cannot: the spec's own rules and size limits.
    fn check(&self) -> std::result::Result<(), String>;
}

impl Metadata for CheckpointMeta {
    const OTHER: (&'static str, &'static str) = ("a denoiser's checkpoint (give it as the denoiser)", "denoiser");

    type Spec = ModelSpec;

    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn format(&self) -> u32 {
        self.format
    }

    fn checksum(&self) -> &str {
        &self.checksum
    }

    fn check(&self) -> std::result::Result<(), String> {
        self.spec.check().map_err(|err| err.to_string())?;
        if self.class_names.len() != self.spec.n_classes {
            return Err(format!("{} class names for {} classes", self.class_names.len(), self.spec.n_classes));
        }
        Ok(())
    }
}

impl Metadata for DenoiserMeta {
    const OTHER: (&'static str, &'static str) = ("a classifier's checkpoint, not a denoiser's", "spec");

    type Spec = DenoiserSpec;

    fn spec(&self) -> &DenoiserSpec {
        &self.denoiser
    }

    fn format(&self) -> u32 {
        self.format
    }

    fn checksum(&self) -> &str {
        &self.checksum
    }

    fn check(&self) -> std::result::Result<(), String> {
        self.denoiser.check().map_err(|err| err.to_string())
    }
}

/// Writes `model`'s record as the incoming weights, then its metadata
/// (`meta` given the checksum of `spec` and the record), each through a
/// temporary file, and last renames the incoming weights into place; a
/// save stopped before that rename is completed first.
fn save_files<B: Backend, M: Module<B>, T: Metadata + Serialize>(
    path: &Path,
    model: &M,
    spec: &T::Spec,
    meta: impl FnOnce(String) -> T,
) -> Result<()> {
    let files = TrainingFiles::new(path);
    complete_interrupted_save::<T>(&files)?;
    let (meta_path, weights_path) = (files.metadata(), files.weights());
    let bytes = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
        .record(model.clone().into_record(), ())
        .map_err(|err| ModelError::Weights { path: weights_path.clone(), message: err.to_string() })?;
    let meta = meta(checksum(spec, &bytes));
    let incoming = files.incoming_weights();
    write_atomically(&incoming, &bytes)?;
    write_atomically(&meta_path, &serde_json::to_vec_pretty(&meta).expect("metadata serializes"))?;
    std::fs::rename(&incoming, &weights_path).map_err(|error| ModelError::Io { path: weights_path, error })
}

/// Completes a save stopped between its last two steps: where the metadata
/// describes the incoming weights, they are renamed into place, so that a
/// new save does not write its own over the only weights the metadata
/// describes.
fn complete_interrupted_save<T: Metadata>(files: &TrainingFiles) -> Result<()> {
    let (incoming, weights) = (files.incoming_weights(), files.weights());
    if !incoming.exists() {
        return Ok(());
    }
    let Ok(meta) = read_meta::<T>(&files.metadata()) else { return Ok(()) };
    match matching_weights(files, &meta) {
        Ok((path, _)) if path == incoming => {
            std::fs::rename(&incoming, &weights).map_err(|error| ModelError::Io { path: weights, error })
        }
        _ => Ok(()),
    }
}

/// The weights file that `meta` describes and its bytes: `<stem>.mpk`, or
/// the incoming weights of a save stopped before it renamed them there
/// (and `<stem>.mpk` once more, which a save may have just renamed them
/// to). The error is that of `<stem>.mpk` when none matches.
fn matching_weights<T: Metadata>(files: &TrainingFiles, meta: &T) -> Result<(PathBuf, Vec<u8>)> {
    let read = |path: PathBuf| -> Result<(PathBuf, Vec<u8>)> {
        let bytes = read_at_most(&path, MAX_WEIGHTS_BYTES, "a checkpoint's weights")?;
        if checksum(meta.spec(), &bytes) != meta.checksum() {
            let message = format!(
                "does not match {} (truncated, from another checkpoint, or the metadata was edited)",
                files.metadata().display()
            );
            return Err(ModelError::Weights { path, message });
        }
        Ok((path, bytes))
    };
    read(files.weights())
        .or_else(|err| read(files.incoming_weights()).or_else(|_| read(files.weights())).map_err(|_| err))
}

/// The model of `meta` with the weights of `files`, and the file they were
/// read from: the checksum checked first (edited metadata can describe a
/// network far larger than memory, which must not be built to find out),
/// then a fresh model built and the record loaded into it by `load`, which
/// refuses a record of another layout.
fn load_weights<B: Backend, M: Module<B>, T>(
    files: &TrainingFiles,
    meta: &T,
    fresh: impl FnOnce(&T) -> Result<M>,
    load: impl FnOnce(M, M::Record) -> std::result::Result<M, String>,
    device: &B::Device,
) -> Result<(M, PathBuf)>
where
    T: Metadata,
{
    let meta_path = files.metadata();
    let (weights_path, bytes) = matching_weights(files, meta)?;
    let bad = |message: String| ModelError::Weights { path: weights_path.clone(), message };
    let fresh =
        fresh(meta).map_err(|err| ModelError::Metadata { path: meta_path.clone(), message: err.to_string() })?;
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
        .load(bytes, device)
        .map_err(|err| bad(err.to_string().lines().next().unwrap_or_default().to_owned()))?;
    let model = load(fresh, record).map_err(bad)?;
    Ok((model, weights_path))
}

/// The largest metadata file read: 64 MiB, room for the names of millions
/// of classes; csrs writes a few kilobytes.
pub const MAX_METADATA_BYTES: u64 = 64 << 20;

/// The largest weights file read: 2 GiB, twice a full-precision record of a
/// network at [`crate::MAX_PARAMETERS`] (1 GiB of `f32`, plus names).
pub const MAX_WEIGHTS_BYTES: u64 = 2 << 30;

/// The bytes of the file at `path`, refused unread beyond `limit` (`what`
/// names the file in the message); read through a bound, so that a file
/// that grows meanwhile is not read past it either.
fn read_at_most(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let io = |error| ModelError::Io { path: path.to_owned(), error };
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|file| file.take(limit + 1).read_to_end(&mut bytes)).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ModelError::FileTooLarge { path: path.to_owned(), what, limit });
    }
    Ok(bytes)
}

/// Reads and checks a metadata file: its spec must pass its check (and so
/// be within the size limits) before anything is built from it; the other
/// kind of checkpoint is named as such.
fn read_meta<T: Metadata>(path: &Path) -> Result<T> {
    let bytes = read_at_most(path, MAX_METADATA_BYTES, "a checkpoint's metadata")?;
    let bad = |message: String| ModelError::Metadata { path: path.to_owned(), message };
    let meta: T = serde_json::from_slice(&bytes).map_err(|err| {
        let (other, key) = T::OTHER;
        let value: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        match value.as_ref().and_then(|v| v.get(key)) {
            Some(_) => bad(other.to_owned()),
            None => bad(err.to_string()),
        }
    })?;
    if meta.format() != FORMAT {
        return Err(bad(format!("format {}, expected {FORMAT}", meta.format())));
    }
    meta.check().map_err(bad)?;
    Ok(meta)
}

/// Writes `bytes` to `path` whole or not at all (through a synced
/// temporary file renamed into place, [`csrs_artifacts::write_atomically`]).
///
/// # Errors
/// [`ModelError::Io`] naming `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    csrs_artifacts::write_atomically(path, bytes).map_err(|error| ModelError::Io { path: path.to_owned(), error })
}

/// The shapes of every float parameter, in visiting order.
#[derive(Debug, PartialEq)]
struct ParamShapes(Vec<Vec<usize>>);

impl ParamShapes {
    fn of<B: Backend>(model: &impl Module<B>) -> Self {
        let mut shapes = ParamShapes(Vec::new());
        model.visit(&mut shapes);
        shapes
    }
}

impl<B: Backend> ModuleVisitor<B> for ParamShapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(param.val().dims().to_vec());
    }
}

/// FNV-1a (64 bit) of the spec as JSON and the weight bytes, as hex.
fn checksum(spec: &impl Serialize, weights: &[u8]) -> String {
    let spec = serde_json::to_vec(spec).expect("a spec serializes");
    fingerprint(spec.iter().chain(weights))
}

/// FNV-1a (64 bit) of `bytes`, as 16 hex digits: a cheap fingerprint of
/// files and configurations, not a cryptographic hash.
pub fn fingerprint<'a>(bytes: impl IntoIterator<Item = &'a u8>) -> String {
    let hash = bytes
        .into_iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;

    use super::*;
    use crate::Architecture;

    fn mlp(n_classes: usize, input_shape: [usize; 3]) -> Checkpoint<Flex> {
        let spec = ModelSpec {
            architecture: Architecture::Mlp,
            n_classes,
            input_shape,
            mean: vec![0.0],
            std: vec![1.0],
            graph: None,
        };
        let names = (0..n_classes).map(|class| class.to_string()).collect();
        let model = Classifier::init(&spec, &Default::default()).unwrap();
        Checkpoint { meta: CheckpointMeta::new(spec, "test", names), model }
    }

    #[test]
    fn a_save_stopped_between_its_renames_loads_what_its_metadata_describes() {
        let dir = tempfile::tempdir().unwrap();
        let (stem, other) = (dir.path().join("m"), dir.path().join("other"));
        mlp(2, [1, 4, 4]).save(&stem).unwrap();
        mlp(3, [1, 4, 4]).save(&other).unwrap();
        let (files, newer) = (TrainingFiles::new(&stem), TrainingFiles::new(&other));
        let old_weights = std::fs::read(files.weights()).unwrap();
        assert!(!files.incoming_weights().exists(), "a finished save leaves no incoming weights");

        // The new weights and metadata are in place, the old weights not yet replaced.
        std::fs::copy(newer.weights(), files.incoming_weights()).unwrap();
        std::fs::copy(newer.metadata(), files.metadata()).unwrap();
        let loaded = Checkpoint::<Flex>::load(&stem, None, &Default::default()).unwrap();
        assert_eq!(loaded.meta.spec.n_classes, 3);
        // A save that starts there completes the stopped one first, so that
        // its own incoming weights, should it stop too, replace none that
        // the metadata on disk describes.
        let stopped = (std::fs::read(files.metadata()).unwrap(), std::fs::read(files.incoming_weights()).unwrap());
        complete_interrupted_save::<CheckpointMeta>(&files).unwrap();
        assert!(!files.incoming_weights().exists());
        assert_eq!(std::fs::read(files.weights()).unwrap(), stopped.1);
        assert_eq!(Checkpoint::<Flex>::load(&stem, None, &Default::default()).unwrap().meta.spec.n_classes, 3);
        std::fs::write(files.weights(), &old_weights).unwrap();
        std::fs::write(files.incoming_weights(), &stopped.1).unwrap();
        assert_eq!(std::fs::read(files.metadata()).unwrap(), stopped.0);

        // Neither file matching, the error names the checkpoint's own.
        std::fs::write(files.incoming_weights(), &old_weights).unwrap();
        let err = Checkpoint::<Flex>::load(&stem, None, &Default::default()).unwrap_err().to_string();
        assert!(err.contains("m.mpk: does not match"), "{err}");

        // The next save completes over what was left.
        mlp(2, [1, 4, 4]).save(&stem).unwrap();
        assert!(!files.incoming_weights().exists());
        assert_eq!(Checkpoint::<Flex>::load(&stem, None, &Default::default()).unwrap().meta.spec.n_classes, 2);
    }

    #[test]
    fn weights_of_other_shapes_are_rejected_even_with_a_valid_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let device = Default::default();
        let small = mlp(2, [1, 4, 4]);
        let stem = dir.path().join("m");
        small.save(&stem).unwrap();
        // Metadata for 8x8 inputs, with a checksum that matches the 4x4 weights.
        let files = TrainingFiles::new(&stem);
        let (meta_path, weights_path) = (files.metadata(), files.weights());
        let mut meta = mlp(2, [1, 8, 8]).meta;
        meta.checksum = checksum(&meta.spec, &std::fs::read(weights_path).unwrap());
        std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
        let err = Checkpoint::<Flex>::load(&stem, None, &device).unwrap_err().to_string();
        assert!(err.ends_with("weight shapes differ from those of mlp (written by another version?)"), "{err}");
    }
}
