//! Loss values on hand-made batches, computed independently here in f64.

mod losses;
mod normal;
mod training;
