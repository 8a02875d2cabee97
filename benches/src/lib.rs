//! End-to-end benchmarks live in `benches/`; this library is empty.
//!
//! Run them with `cargo bench -p csrs-benches`; results are kept in
//! `docs/performance.md`.
