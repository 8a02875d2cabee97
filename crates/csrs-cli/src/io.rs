//! Opening the files named on the command line (`-` or nothing for the
//! standard streams).

use std::fs::File;
use std::io::{self, BufRead, BufReader, LineWriter, Write};
use std::path::Path;

use anyhow::Context;

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

/// Where results go: a file (created or truncated) or standard output.
///
/// Both write whole lines as they come, so a run that stops early leaves
/// every finished line and no partial one.
pub(crate) fn create_output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    match path.filter(|path| *path != Path::new("-")) {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            Ok(Box::new(LineWriter::new(file)))
        }
        None => Ok(Box::new(io::stdout().lock())),
    }
}

/// Refuses an output file that is the input file: creating it would erase
/// the input before it is read.
pub(crate) fn ensure_distinct(input: Option<&Path>, output: Option<&Path>) -> anyhow::Result<()> {
    if let (Some(input), Some(output)) = (input, output)
        && let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize())
        && a == b
    {
        anyhow::bail!("the output {} is the input file, expected another file", output.display());
    }
    Ok(())
}

/// Whether an error chain ends in a closed pipe.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
