//! Opening the files named on the command line (`-` or nothing for the
//! standard streams).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use anyhow::Context;
use csrs_artifacts::{AtomicFile, Existing, check_output};

/// A line-oriented input: a file, or standard input.
pub(crate) struct Input {
    /// How errors name it: the path, or `<stdin>`.
    pub(crate) name: String,
    pub(crate) reader: Box<dyn BufRead>,
}

impl Input {
    pub(crate) fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        match path.filter(|path| *path != Path::new("-")) {
            Some(path) => {
                let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                Ok(Input { name: path.display().to_string(), reader: Box::new(BufReader::new(file)) })
            }
            None => Ok(Input { name: "<stdin>".to_owned(), reader: Box::new(io::stdin().lock()) }),
        }
    }
}

/// Where results go: a file, written whole once the command has succeeded
/// (an error leaves the file as it was, or absent), or standard output,
/// written line by line.
pub(crate) enum Output {
    File(AtomicFile),
    Stdout(io::StdoutLock<'static>),
}

impl Output {
    /// The output at `path` (`-` or nothing for standard output), checked
    /// against the overwrite rule: not one of `inputs`, and not an existing
    /// file unless `force`.
    pub(crate) fn create(path: Option<&Path>, inputs: &[&Path], force: bool) -> anyhow::Result<Self> {
        match path.filter(|path| *path != Path::new("-")) {
            Some(path) => {
                check_output(path, inputs, Existing::from_force(force))?;
                let file = AtomicFile::create(path).with_context(|| format!("cannot create {}", path.display()))?;
                Ok(Output::File(file))
            }
            None => Ok(Output::Stdout(io::stdout().lock())),
        }
    }

    /// Puts a file in place (or flushes standard output).
    pub(crate) fn finish(self) -> anyhow::Result<()> {
        match self {
            Output::File(file) => {
                let path = file.path().to_owned();
                file.commit().with_context(|| format!("cannot write {}", path.display()))
            }
            Output::Stdout(mut stdout) => Ok(stdout.flush()?),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(file) => file.write(buf),
            Output::Stdout(stdout) => stdout.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(file) => file.flush(),
            Output::Stdout(stdout) => stdout.flush(),
        }
    }
}

/// Checks every file a command is about to write against the overwrite
/// rule: none may be one of `inputs`, and none may exist unless `force`.
pub(crate) fn check_outputs<P: AsRef<Path>, Q: AsRef<Path>>(
    outputs: &[P],
    inputs: &[Q],
    force: bool,
) -> anyhow::Result<()> {
    for output in outputs {
        check_output(output.as_ref(), inputs, Existing::from_force(force))?;
    }
    Ok(())
}

/// Whether an error chain ends in a closed pipe.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
