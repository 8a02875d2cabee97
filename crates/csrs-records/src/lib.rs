//! The files of csrs's certification runs, readable and writable from Rust.
//!
//! A run writes one record per example ([`CertifyRow`], [`PredictRow`]),
//! as TSV with a header or as JSONL ([`Format`], by the file's extension),
//! appended and flushed one line at a time by a [`RecordFile`] that holds
//! the file's lock, and marks them whole when it ends (`<records>.end`,
//! [`EndMark`]); its resolved [`Settings`] go beside them. [`read_rows`] is
//! the one reader: it tells records being written, unfinished or cut short
//! from whole ones. [`merge`] joins the records of a sharded run, and
//! [`certify_counts`] certifies lines of counts from any framework.
//!
//! Every format is one serde type, and that type is the one place that
//! spells its fields ([`field_names`]); errors name the field at fault.
//! The crate needs no tensors: records of any framework's counts can be
//! written and read here.
//!
//! ```
//! use csrs_records::{CertifyRow, RecordFile, Unfinished, read_rows};
//! use csrs_stats::{Alpha, ClassCounts, Smoothing, certify};
//! # let dir = std::env::temp_dir().join(format!("csrs-records-doc-{}", std::process::id()));
//! let path = dir.join("run.tsv");
//! let (mut file, kept) = RecordFile::open::<CertifyRow>(&path, false)?;
//! assert!(kept.is_empty());
//! // Example 0, of class 1: 100 selection and 1 000 estimation counts.
//! let selection = ClassCounts::new(vec![2, 98])?;
//! let estimation = ClassCounts::new(vec![10, 990])?;
//! let certificate = certify(&selection, &estimation, None, Smoothing::gaussian(0.25)?, Alpha::new(0.001)?)?;
//! file.append(&CertifyRow::new(0, 1, Some(1), certificate, &estimation, 0.5))?;
//! file.finish()?;
//! let rows = read_rows::<CertifyRow>(&path, Unfinished::Refuse)?;
//! assert_eq!(rows[0].certificate().predicted, 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod certify;
mod counts;
mod fields;
mod file;
mod identity;
mod json;
mod merge;
mod predict;
mod row;
mod settings;

pub use certify::{CertifyRecord, CertifyRow, Decision, mean_draws, out_of_draws};
pub use counts::{CountsCase, MAX_LINE_BYTES, certify_case, certify_counts};
pub use fields::{deserialize, field_names};
pub use file::{EndMark, RecordFile, Unfinished, claim, read_rows};
pub use identity::{Difference, RunIdentity};
pub use json::{CertificateJson, Curve, RadiusCell, cost_sensitive_radius, standard_radius};
pub use merge::merge;
pub use predict::{PredictRecord, PredictRow};
pub use row::{Format, Row, check_class};
pub use settings::{MAX_INTEGER, Settings};
