//! Integration tests of the certification statistics.

mod curve;
mod grid_noise;
mod metrics;
mod oracle;
mod plan;
mod properties;
mod sequential;
mod tolerance;
