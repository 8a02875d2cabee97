//! End-to-end tests of the `csrs` binary, run in fresh temporary folders.

mod certify_counts;
mod cost;
mod util;
