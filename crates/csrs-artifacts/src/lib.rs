//! The files each csrs run writes, named in one place.
//!
//! A run is known by one path given by the user (a training run's `out`
//! stem, a certification run's records file); every other file of the run
//! is that path plus a fixed suffix. The command-line tool, the training
//! loop, the checkpoint reader and the experiment pipelines all ask these
//! types for the names, so a suffix is spelled once and a pipeline that
//! cleans up or checks a run's outputs cannot miss one.
//!
//! It also holds how those files are written: whole or not at all
//! ([`write_atomically`], [`AtomicFile`]), and never over a file the user
//! has unless told to, nor over one of the command's inputs
//! ([`check_output`]).
//!
//! ```
//! use csrs_artifacts::{CertificationFiles, Existing, check_output, write_atomically};
//! # let dir = std::env::temp_dir().join(format!("csrs-artifacts-doc-{}", std::process::id()));
//! let run = CertificationFiles::new(&dir.join("digits.tsv"));
//! let config = run.resolved_config();
//! check_output(&config, &[run.records()], Existing::Refuse)?;
//! write_atomically(&config, b"sigma = 0.25\n")?;
//! assert!(check_output(&config, &[run.records()], Existing::Refuse).is_err());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod output;
mod setting;
mod write;

pub use output::{Existing, OutputError, check_output, is_open_at, remove_if_present, same_file};
pub use setting::{Keys, Setting, Spelling, Worded, spelled};
pub use write::{AtomicFile, write_atomically};

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The suffix of a run's resolved settings (the options or configuration
/// after defaults and command-line overrides), written beside its outputs.
const RESOLVED_CONFIG: &str = ".config.toml";

/// The files of a training run: `<stem>.json` (the checkpoint's metadata),
/// `<stem>.mpk` (its weights), `<stem>.optim-<epoch>.mpk` (the optimiser's
/// state after an epoch), `<stem>.log.csv` (one line per epoch) and
/// `<stem>.config.toml` (the resolved configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingFiles {
    stem: PathBuf,
}

impl TrainingFiles {
    const METADATA: &str = "json";
    const WEIGHTS: &str = "mpk";

    /// The files of the checkpoint at `path`: its stem, or either of its
    /// two files (`model`, `model.json` and `model.mpk` name one checkpoint).
    pub fn new(path: &Path) -> Self {
        let stem = match path.extension().and_then(OsStr::to_str) {
            Some(Self::METADATA | Self::WEIGHTS) => path.with_extension(""),
            _ => path.to_owned(),
        };
        TrainingFiles { stem }
    }

    /// The path the user gave, without a suffix.
    pub fn stem(&self) -> &Path {
        &self.stem
    }

    /// The checkpoint's metadata (JSON): what the model is.
    pub fn metadata(&self) -> PathBuf {
        with_suffix(&self.stem, &format!(".{}", Self::METADATA))
    }

    /// The checkpoint's weights (burn's named MessagePack).
    pub fn weights(&self) -> PathBuf {
        with_suffix(&self.stem, &format!(".{}", Self::WEIGHTS))
    }

    /// New weights on their way in: a save writes them here whole, then
    /// the metadata that describes them, then renames them to
    /// [`Self::weights`]. A save stopped between the two renames leaves the
    /// metadata describing these, and a load reads them from here.
    pub fn incoming_weights(&self) -> PathBuf {
        with_suffix(&self.stem, &format!(".{}.next", Self::WEIGHTS))
    }

    /// The optimiser's state after `epochs` epochs, kept to resume.
    pub fn optimizer(&self, epochs: usize) -> PathBuf {
        with_suffix(&self.stem, &format!(".optim-{epochs}.{}", Self::WEIGHTS))
    }

    /// The optimiser states on disk, with their epochs, in no set order. A
    /// run stopped between writing one epoch's state and removing the one
    /// before leaves two; a run that goes on must remove the older one.
    pub fn optimizer_states(&self) -> Vec<(usize, PathBuf)> {
        let (Some(folder), Some(stem)) = (self.stem.parent(), self.stem.file_name().and_then(OsStr::to_str)) else {
            return Vec::new();
        };
        let prefix = format!("{stem}.optim-");
        let suffix = format!(".{}", Self::WEIGHTS);
        let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
        let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
        entries
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                let epochs = name.strip_prefix(&prefix)?.strip_suffix(&suffix)?;
                // Digits only: `parse` would also take a sign.
                if !epochs.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let epochs = epochs.parse().ok()?;
                Some((epochs, self.optimizer(epochs)))
            })
            .collect()
    }

    /// The per-epoch log (CSV).
    pub fn log(&self) -> PathBuf {
        with_suffix(&self.stem, ".log.csv")
    }

    /// The resolved training configuration.
    pub fn resolved_config(&self) -> PathBuf {
        with_suffix(&self.stem, RESOLVED_CONFIG)
    }

    /// Every file a finished run leaves (the optimiser's state of the last
    /// epoch aside, which only a resumed run reads).
    pub fn outputs(&self) -> [PathBuf; 4] {
        [self.metadata(), self.weights(), self.log(), self.resolved_config()]
    }
}

/// The files of a certification (or prediction) run: the records (`.tsv`
/// or `.jsonl`, one line per example), `<records>.config.toml` and, once
/// the run has written its last record, `<records>.end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificationFiles {
    records: PathBuf,
}

impl CertificationFiles {
    /// The files of the run writing `records`.
    pub fn new(records: &Path) -> Self {
        CertificationFiles { records: records.to_owned() }
    }

    /// The records file.
    pub fn records(&self) -> &Path {
        &self.records
    }

    /// The resolved settings of the run.
    pub fn resolved_config(&self) -> PathBuf {
        with_suffix(&self.records, RESOLVED_CONFIG)
    }

    /// The end mark: written when the run has made every record it was
    /// asked for (what it holds says how long the records were then), and
    /// removed while a resumed run adds to them. Records without one are
    /// of a run that has not finished, or was stopped.
    pub fn end_mark(&self) -> PathBuf {
        with_suffix(&self.records, ".end")
    }

    /// Every file the run writes.
    pub fn outputs(&self) -> [PathBuf; 3] {
        [self.records.clone(), self.resolved_config(), self.end_mark()]
    }
}

/// `path` with `suffix` appended to its last component (not an extension
/// replaced: `model.v2` keeps its `.v2`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_named_by_its_stem_or_either_file() {
        let expected = TrainingFiles::new(Path::new("runs/model"));
        for given in ["runs/model", "runs/model.json", "runs/model.mpk"] {
            assert_eq!(TrainingFiles::new(Path::new(given)), expected, "{given}");
        }
        assert_eq!(expected.metadata(), Path::new("runs/model.json"));
        assert_eq!(expected.weights(), Path::new("runs/model.mpk"));
        assert_eq!(expected.optimizer(3), Path::new("runs/model.optim-3.mpk"));
        assert_eq!(expected.log(), Path::new("runs/model.log.csv"));
        assert_eq!(expected.resolved_config(), Path::new("runs/model.config.toml"));
    }

    #[test]
    fn the_optimizer_states_on_disk_are_found_by_epoch() {
        let folder = std::env::temp_dir().join(format!("csrs-artifacts-states-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let files = TrainingFiles::new(&folder.join("m.v2"));
        for name in ["m.v2.optim-1.mpk", "m.v2.optim-12.mpk", "m.v2.optim-x.mpk", "m.v2.optim-+3.mpk", "n.optim-2.mpk"]
        {
            std::fs::write(folder.join(name), b"").unwrap();
        }
        let mut found = files.optimizer_states();
        found.sort();
        std::fs::remove_dir_all(&folder).unwrap();
        assert_eq!(found, [(1, files.optimizer(1)), (12, files.optimizer(12))]);
    }

    #[test]
    fn dots_in_a_stem_are_kept() {
        let files = TrainingFiles::new(Path::new("runs/resnet.v2"));
        assert_eq!(files.weights(), Path::new("runs/resnet.v2.mpk"));
        let run = CertificationFiles::new(Path::new("results/a.b.tsv"));
        assert_eq!(run.resolved_config(), Path::new("results/a.b.tsv.config.toml"));
        assert_eq!(run.outputs()[0], Path::new("results/a.b.tsv"));
    }
}
