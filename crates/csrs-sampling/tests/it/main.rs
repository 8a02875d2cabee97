//! Sampling tests: soundness against known probabilities, and the
//! determinism of the burn and native counters.

mod burn_counter;
mod native_counter;
mod sound_noise;
mod soundness;
