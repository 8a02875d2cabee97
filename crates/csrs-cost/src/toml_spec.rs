//! Reading a cost matrix from a TOML description.
//!
//! ```toml
//! kind = "seedwise"            # or "standard", "pairwise", "matrix"
//! classes = ["airplane", "automobile", "bird", "cat", "deer",
//!            "dog", "frog", "horse", "ship", "truck"]
//! seeds = ["cat"]              # names or indices
//! ```
//!
//! Pairwise files give `pairs = [["cat", "dog"]]`, matrix files
//! `rows = [[0, 1], [10, 0]]`.
//! Without `classes`, the class count comes from `n_classes`, from the rows,
//! or from the caller.

use toml::{Table, Value};

use crate::matrix::{check_class_count, class_index};
use crate::{CostError, CostMatrix, Result};

const KEYS: &[&str] = &["kind", "description", "classes", "n_classes", "seeds", "pairs", "rows"];

/// Parses the TOML text of a cost file; `expected_classes` is the class count
/// the caller needs (e.g. the model's), if known.
pub(crate) fn parse(text: &str, expected_classes: Option<usize>) -> Result<CostMatrix> {
    let table: Table = text.parse().map_err(|err: toml::de::Error| syntax_error(text, &err))?;
    if let Some(key) = table.keys().find(|key| !KEYS.contains(&key.as_str())) {
        let message = format!("unknown key, expected one of {}", KEYS.join(", "));
        return Err(CostError::Key { key: key.clone(), message });
    }
    let kind = match table.get("kind") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => return Err(key_error("kind", format!("expected a string, got {}", show(other)))),
        None => return Err(key_error("kind", "missing, expected one of standard, seedwise, pairwise, matrix")),
    };
    let names = names(&table)?;
    let declared = declared_count(&table, names.as_deref(), expected_classes)?;
    let refs = ClassRefs { names: names.as_deref(), n_classes: declared };

    let matrix = match kind {
        "standard" => CostMatrix::standard(refs.count()?)?,
        "seedwise" => {
            let seeds = array(&table, "seeds")?
                .iter()
                .enumerate()
                .map(|(i, value)| refs.resolve(value, &format!("seeds[{i}]")))
                .collect::<Result<Vec<_>>>()?;
            CostMatrix::seedwise(refs.count()?, &seeds).map_err(|err| err.at_key("seeds"))?
        }
        "pairwise" => {
            let pairs = array(&table, "pairs")?
                .iter()
                .enumerate()
                .map(|(i, value)| refs.resolve_pair(value, &format!("pairs[{i}]")))
                .collect::<Result<Vec<_>>>()?;
            CostMatrix::pairwise(refs.count()?, &pairs).map_err(|err| err.at_key("pairs"))?
        }
        "matrix" => {
            let matrix = CostMatrix::from_rows(rows(&table)?).map_err(|err| err.at_key("rows"))?;
            if let Some(expected) = declared.filter(|&m| m != matrix.n_classes()) {
                return Err(CostError::ClassCountMismatch { found: matrix.n_classes(), expected })
                    .map_err(|err| err.at_key("rows"));
            }
            matrix
        }
        other => {
            let message = format!("unknown kind {other:?}, expected one of standard, seedwise, pairwise, matrix");
            return Err(key_error("kind", message));
        }
    };
    match names {
        Some(names) => matrix.with_names(names).map_err(|err| err.at_key("classes")),
        None => Ok(matrix),
    }
}

fn syntax_error(text: &str, err: &toml::de::Error) -> CostError {
    let line = err.span().map_or(1, |span| text[..span.start].matches('\n').count() + 1);
    CostError::Line { line, message: format!("invalid TOML: {}", err.message().trim()) }
}

fn key_error(key: &str, message: impl Into<String>) -> CostError {
    CostError::Key { key: key.to_owned(), message: message.into() }
}

fn show(value: &Value) -> String {
    format!("{} `{value}`", value.type_str())
}

fn array<'t>(table: &'t Table, key: &str) -> Result<&'t [Value]> {
    match table.get(key) {
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(key_error(key, format!("expected an array, got {}", show(other)))),
        None => Err(key_error(key, "missing")),
    }
}

fn names(table: &Table) -> Result<Option<Vec<String>>> {
    if !table.contains_key("classes") {
        return Ok(None);
    }
    array(table, "classes")?
        .iter()
        .enumerate()
        .map(|(i, value)| match value {
            Value::String(name) if !name.trim().is_empty() => Ok(name.clone()),
            other => Err(key_error(&format!("classes[{i}]"), format!("expected a class name, got {}", show(other)))),
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The class count that `classes`, `n_classes` and the caller agree on,
/// each checked against [`crate::MAX_CLASSES`] before a matrix is built.
fn declared_count(table: &Table, names: Option<&[String]>, expected: Option<usize>) -> Result<Option<usize>> {
    let n_classes = match table.get("n_classes") {
        None => None,
        Some(Value::Integer(n)) if *n >= 0 => Some(*n as usize),
        Some(other) => {
            return Err(key_error("n_classes", format!("expected a non-negative integer, got {}", show(other))));
        }
    };
    let mut declared = None;
    for (key, count) in [("classes", names.map(<[String]>::len)), ("n_classes", n_classes), ("", expected)] {
        if let Err(err) = count.map_or(Ok(()), check_class_count) {
            return Err(if key.is_empty() { err } else { err.at_key(key) });
        }
        match (declared, count) {
            (Some(found), Some(count)) if found != count => {
                let mismatch = CostError::ClassCountMismatch { found, expected: count };
                return Err(if key.is_empty() { mismatch } else { mismatch.at_key(key) });
            }
            (None, Some(count)) => declared = Some(count),
            _ => {}
        }
    }
    Ok(declared)
}

fn rows(table: &Table) -> Result<Vec<Vec<f64>>> {
    array(table, "rows")?
        .iter()
        .enumerate()
        .map(|(y, row)| match row {
            Value::Array(cells) => cells
                .iter()
                .enumerate()
                .map(|(k, cell)| match cell {
                    Value::Integer(c) => Ok(*c as f64),
                    Value::Float(c) => Ok(*c),
                    other => {
                        Err(key_error(&format!("rows[{y}][{k}]"), format!("expected a number, got {}", show(other))))
                    }
                })
                .collect(),
            other => Err(key_error(&format!("rows[{y}]"), format!("expected an array of costs, got {}", show(other)))),
        })
        .collect()
}

/// Turns class references (indices or names) into indices.
struct ClassRefs<'a> {
    names: Option<&'a [String]>,
    n_classes: Option<usize>,
}

impl ClassRefs<'_> {
    fn count(&self) -> Result<usize> {
        self.n_classes.ok_or(CostError::UnknownClassCount)
    }

    fn resolve(&self, value: &Value, key: &str) -> Result<usize> {
        let index = match value {
            Value::Integer(i) if *i >= 0 => *i as usize,
            Value::String(name) => class_index(self.names, name).map_err(|err| err.at_key(key))?,
            other => {
                let message = format!("expected a class index >= 0 or a class name, got {}", show(other));
                return Err(key_error(key, message));
            }
        };
        match self.n_classes {
            Some(n_classes) if index >= n_classes => Err(CostError::ClassOutOfRange { index, n_classes }.at_key(key)),
            _ => Ok(index),
        }
    }

    fn resolve_pair(&self, value: &Value, key: &str) -> Result<(usize, usize)> {
        match value {
            Value::Array(pair) if pair.len() == 2 => {
                Ok((self.resolve(&pair[0], &format!("{key}[0]"))?, self.resolve(&pair[1], &format!("{key}[1]"))?))
            }
            other => Err(key_error(key, format!("expected a pair [from, to], got {}", show(other)))),
        }
    }
}
