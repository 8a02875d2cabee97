//! Integration tests of the certification statistics.

mod metrics;
mod oracle;
mod properties;
mod tolerance;
