//! Reports of certification records, from Rust: the metrics table
//! ([`table`]), the figure of every metric against the radius ([`draw`]),
//! and paired comparisons of runs on the same examples ([`compare`],
//! McNemar's exact test), as `csrs analyze` prints and draws them.
//!
//! A [`Run`] is one records file read with `csrs-records`; every fraction
//! of the table carries its exact 95% interval over the test examples
//! (two-sided Clopper–Pearson), abstains never count as correct or robust,
//! and each curve of a figure is the metric's exact step function of the
//! radius. The crate needs no tensors.
//!
//! ```
//! use csrs_artifacts::Keys;
//! use csrs_records::{CertifyRow, Unfinished};
//! use csrs_report::{Run, TableFormat, table};
//! use csrs_stats::{Alpha, ClassCounts, Smoothing, certify};
//!
//! let estimation = ClassCounts::new(vec![10, 990])?;
//! let certificate = certify(&estimation, &estimation, None, Smoothing::gaussian(0.25)?, Alpha::new(0.001)?)?;
//! let rows = vec![CertifyRow::new(0, 1, None, certificate, &estimation, 0.5)];
//! let run = Run { records: "run.tsv".into(), label: "gaussian".into(), rows, target_radius: None };
//! let markdown = table(&[run], &[0.0, 0.5], TableFormat::Markdown, true, &Keys)?;
//! assert!(markdown.starts_with("| label | examples |"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compare;
mod figure;
mod table;

pub use compare::{Paired, compare, comparison_table};
pub use figure::{Format as FigureFormat, draw};
pub use table::{Run, TableFormat, check_radii, radius_text, table};
