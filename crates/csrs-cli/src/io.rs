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

/// What [`read_line_bounded`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BoundedLine {
    /// A line, in the buffer without its `\n` or `\r\n`.
    Line,
    /// The end of the input.
    End,
    /// A line of more than the limit's bytes; the buffer holds its start.
    TooLong,
}

/// Reads the next line of `reader` into `line`, holding at most `limit`
/// bytes of it (and its line ending): a line without a newline is never
/// read whole into memory, whatever its length.
///
/// # Errors
/// What reading said.
pub(crate) fn read_line_bounded(reader: &mut dyn BufRead, limit: usize, line: &mut Vec<u8>) -> io::Result<BoundedLine> {
    line.clear();
    // The line's bytes, "\r\n", and one byte more to tell a longer line.
    let read = io::Read::take(reader, (limit as u64).saturating_add(2)).read_until(b'\n', line)?;
    if read == 0 {
        return Ok(BoundedLine::End);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    Ok(if line.len() > limit { BoundedLine::TooLong } else { BoundedLine::Line })
}

#[cfg(test)]
mod bounded_lines {
    use super::*;

    /// Every line of `text` read with `limit`, until the end or a line too long.
    fn lines(text: &[u8], limit: usize) -> Vec<(BoundedLine, Vec<u8>)> {
        let mut reader = io::Cursor::new(text);
        let mut found = Vec::new();
        loop {
            let mut line = Vec::new();
            let kind = read_line_bounded(&mut reader, limit, &mut line).unwrap();
            let last = kind != BoundedLine::Line;
            found.push((kind, line));
            if last {
                return found;
            }
        }
    }

    #[test]
    fn lines_up_to_the_limit_are_read_as_lines_does() {
        let read = lines(b"abcd\r\nab\n\nabc", 4);
        let expected: Vec<(BoundedLine, Vec<u8>)> = vec![
            (BoundedLine::Line, b"abcd".to_vec()),
            (BoundedLine::Line, b"ab".to_vec()),
            (BoundedLine::Line, Vec::new()),
            (BoundedLine::Line, b"abc".to_vec()),
            (BoundedLine::End, Vec::new()),
        ];
        assert_eq!(read, expected);
    }

    #[test]
    fn a_longer_line_is_refused_holding_no_more_than_the_limit() {
        for text in [&b"ab\nabcde\nab\n"[..], b"ab\nabcde", b"ab\nabcd\rx\n", b"ab\nabcdefghijklmnop"] {
            let read = lines(text, 4);
            assert_eq!(read.len(), 2, "{text:?}");
            assert_eq!(read[1].0, BoundedLine::TooLong, "{text:?}");
            assert!(read[1].1.len() <= 4 + 2, "{text:?}");
        }
        // An endless line without a newline, from a generator: refused
        // after limit + 2 bytes.
        let mut endless = io::BufReader::new(io::repeat(b'x'));
        let mut line = Vec::new();
        assert_eq!(read_line_bounded(&mut endless, 1 << 20, &mut line).unwrap(), BoundedLine::TooLong);
        assert_eq!(line.len(), (1 << 20) + 2);
    }
}
