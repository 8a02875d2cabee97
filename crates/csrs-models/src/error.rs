//! The error type of the crate.

use std::path::PathBuf;

/// A `Result` whose error is a [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// Why a model could not be built, saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// An architecture name that is not known.
    #[error("unknown architecture {0:?}, expected one of {names}", names = crate::Architecture::NAMES.join(", "))]
    UnknownArchitecture(String),
    /// An architecture that cannot take this input shape.
    #[error("{architecture} takes {expected} inputs, got {channels}x{height}x{width}")]
    InputShape {
        /// The architecture's name.
        architecture: &'static str,
        /// What it accepts.
        expected: &'static str,
        /// Channels given.
        channels: usize,
        /// Height given.
        height: usize,
        /// Width given.
        width: usize,
    },
    /// A network beyond one of the size limits ([`crate::MAX_INPUT_ELEMENTS`],
    /// [`crate::MAX_PARAMETERS`], [`crate::MAX_ACTIVATIONS`]), refused
    /// before it is built.
    #[error(
        "{architecture} with {channels}x{height}x{width} inputs and {n_classes} classes has more than {limit} {what}, the limit of a model"
    )]
    TooLarge {
        /// The architecture's name.
        architecture: &'static str,
        /// Channels given.
        channels: usize,
        /// Height given.
        height: usize,
        /// Width given.
        width: usize,
        /// Classes given.
        n_classes: usize,
        /// What is counted: input values, parameters, or activation values.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// A model specification that cannot be built.
    #[error("{0}")]
    Spec(String),
    /// A checkpoint file that is missing or unreadable.
    #[error("cannot read checkpoint {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// A file larger than the limit of what it is, refused unread.
    #[error("{} is larger than {limit} bytes, the limit of {what}", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// What the file is, e.g. "a checkpoint's weights".
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// An archive whose entries decompress to more than
    /// [`crate::interop::MAX_IMPORT_BYTES`], refused before any is read.
    #[error("cannot import {}: its entries decompress to more than {limit} bytes, the limit of an imported file", path.display())]
    ArchiveTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// A metadata file that is not what csrs writes.
    #[error("checkpoint metadata {}: {message}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Weights that do not load into the architecture the metadata names.
    #[error("checkpoint weights {}: {message}", path.display())]
    Weights {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A weights file from another framework that cannot be imported.
    #[error("cannot import {}: {message}", path.display())]
    Import {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A model that cannot be exported.
    #[error("cannot export to {}: {message}", path.display())]
    Export {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint for another number of classes than the caller needs.
    #[error("checkpoint {} has {found} classes, expected {expected}", path.display())]
    ClassCount {
        /// The checkpoint.
        path: PathBuf,
        /// Its classes.
        found: usize,
        /// What the caller needs (the dataset's or cost matrix's).
        expected: usize,
    },
}
