//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use anyhow::bail;

use crate::{asks_for_help, cargo};

const USAGE: &str = "usage: cargo xtask ci";

/// The test command the README gives; CI runs exactly this.
pub(crate) const TEST_COMMAND: &[&str] = &["test", "--workspace"];

/// Takes no options: an unknown one is refused rather than ignored, since
/// ignoring it would start the whole of CI.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if asks_for_help(args) {
        println!("{USAGE}");
        return Ok(());
    }
    if let Some(arg) = args.first() {
        bail!("unknown argument {arg}: ci takes none\n{USAGE}");
    }
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    cargo(TEST_COMMAND)?;
    // The library's example of a network of one's own, built by the tests.
    cargo(&["run", "--package", "csrs-run", "--example", "own_model"])?;
    // No GPU here, but the CUDA path must keep compiling.
    cargo(&["check", "--package", "csrs-cli", "--features", "cuda"])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Neither runs cargo: help is printed, and an argument is refused
    /// before any check starts.
    #[test]
    fn help_is_printed_and_arguments_are_refused() {
        run(&["--help".to_owned()]).unwrap();
        run(&["-h".to_owned()]).unwrap();
        let err = run(&["--fast".to_owned()]).unwrap_err().to_string();
        assert!(err.contains("unknown argument --fast") && err.contains(USAGE), "{err}");
    }
}
