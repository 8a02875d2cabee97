//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use std::process::Command;

use anyhow::bail;

use crate::{asks_for_help, cargo, project_root, run_in_root};

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
    // Features unify across the workspace: the crates without their
    // networks, as the Python package builds them, are linted apart.
    cargo(&["clippy", "-p", "csrs-sampling", "-p", "csrs-run", "--no-default-features", "--", "-D", "warnings"])?;
    cargo(TEST_COMMAND)?;
    // The library's example of a network of one's own, built by the tests.
    cargo(&["run", "--package", "csrs-run", "--example", "own_model"])?;
    // No GPU here, but the CUDA path must keep compiling.
    cargo(&["check", "--package", "csrs-cli", "--features", "cuda"])?;
    python_package()
}

/// The virtual environment of the Python package's tests, in the target
/// folder: made once, then reused.
const VENV: &str = "target/python-venv";

/// Builds and installs the Python package into [`VENV`] as a user would
/// (`pip install ./crates/csrs-py`), and runs its pytest suite, with the
/// `csrs` binary the tests built for the records it reads back. torch is
/// not installed: its path is checked by `scripts/torch_smoothed.py`.
fn python_package() -> anyhow::Result<()> {
    let root = project_root();
    if !root.join(VENV).join("bin/python").exists() {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        run_in_root(Command::new(&python), &python, &["-m", "venv", VENV])?;
    }
    let bin = root.join(VENV).join("bin");
    let python = bin.join("python");
    // The environment's programs first, as if it were activated: the
    // package's build backend (maturin) is found there.
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths)),
    )?;
    let in_venv = || {
        let mut command = Command::new(&python);
        command.env("PATH", &path).env("VIRTUAL_ENV", root.join(VENV));
        command
    };
    let pip = |args: &[&str]| {
        let args: Vec<&str> =
            ["-m", "pip", "--disable-pip-version-check", "install", "--quiet"].iter().chain(args).copied().collect();
        run_in_root(in_venv(), "python", &args)
    };
    pip(&["maturin>=1.9.4,<2", "numpy", "pytest"])?;
    pip(&["--force-reinstall", "--no-deps", "--no-build-isolation", "./crates/csrs-py"])?;
    let mut pytest = in_venv();
    pytest.env("CSRS_BIN", root.join("target/debug/csrs"));
    run_in_root(pytest, "python", &["-m", "pytest", "-q", "crates/csrs-py/tests"])
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
