//! Sampling tests: soundness against known probabilities, and the
//! determinism of the burn counter.

mod burn_counter;
mod soundness;
