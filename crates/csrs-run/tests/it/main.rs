//! Certification runs through the library: on a counter with known
//! probabilities, and counting in another precision.

mod precision;
mod runs;
