//! Cost matrices: which mistakes of a classifier are harmful, and how harmful.
//!
//! A [`CostMatrix`] C is an m×m table where `C[y][k] >= 0` is the harm of
//! predicting class `k` when the truth is `y`, with a zero diagonal.
//! Everything the certification needs from it is a question about one row,
//! so the row has its own type, [`CostRow`], which can also be built from a
//! bare slice (for counts that come from another framework).
//!
//! Matrices are validated once, when they are built or loaded
//! ([`CostMatrix::from_rows`], [`CostMatrix::load`]); after that every query is
//! infallible.
//! Files are TOML (`kind = "standard" | "seedwise" | "pairwise" | "matrix"`)
//! or CSV, and may name classes by index or by name (see `docs/cost-matrices.md`).
//! A matrix has at most [`MAX_CLASSES`] classes, checked before it is
//! allocated.
//!
//! ```
//! use csrs_cost::{CostMatrix, CostRow};
//!
//! // CIFAR-10: a cat (3) taken for a bird (2) or a dog (5) is harmful.
//! let matrix = CostMatrix::pairwise(10, &[(3, 2), (3, 5)])?;
//! let cat: CostRow<'_> = matrix.row(3);
//! assert!(cat.is_seed());
//! assert_eq!(cat.sensitive_set().collect::<Vec<_>>(), vec![2, 5]);
//! assert!(!matrix.row(0).is_seed()); // no mistake on an airplane is harmful
//! // The same matrix from its TOML description.
//! let toml = "kind = \"pairwise\"\nn_classes = 10\npairs = [[3, 2], [3, 5]]\n";
//! assert_eq!(CostMatrix::from_toml_str(toml, Some(10))?, matrix);
//! # Ok::<(), csrs_cost::CostError>(())
//! ```
#![deny(missing_docs)]

mod csv;
mod error;
mod file;
mod matrix;
mod row;
mod toml_spec;

pub use error::{CostError, Result};
pub use file::MAX_FILE_BYTES;
pub use matrix::{CostMatrix, MAX_CLASSES};
pub use row::CostRow;
