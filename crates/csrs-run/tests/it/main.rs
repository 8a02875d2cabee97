//! Certification runs through the library, on a counter with known
//! probabilities.

mod runs;
