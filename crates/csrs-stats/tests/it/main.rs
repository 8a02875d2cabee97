//! Integration tests of the certification statistics.

mod curve;
mod metrics;
mod oracle;
mod properties;
mod tolerance;
