//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use crate::cargo;

/// The test command the README gives; CI runs exactly this.
pub(crate) const TEST_COMMAND: &[&str] = &["test", "--workspace"];

pub(crate) fn run() -> anyhow::Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    cargo(TEST_COMMAND)?;
    // No GPU here, but the CUDA path must keep compiling.
    cargo(&["check", "--package", "csrs-cli", "--features", "cuda"])
}
