//! Reading a cost matrix from CSV.
//!
//! One row per true class, one column per predicted class. An optional
//! header line names the classes (with an optional corner cell), and each row
//! may start with its class name:
//!
//! ```text
//! ,benign,malignant
//! benign,0,1
//! malignant,10,0
//! ```
//!
//! Blank lines and lines starting with `#` are skipped. A file of more than
//! [`MAX_CLASSES`] rows, or a line of more cells than a class name and
//! [`MAX_CLASSES`] costs, is refused at that line.

use crate::{CostError, CostMatrix, MAX_CLASSES, Result};

struct Row {
    line: usize,
    label: Option<String>,
    costs: Vec<f64>,
}

/// Parses CSV text; `expected_classes` is the class count the caller needs.
pub(crate) fn parse(text: &str, expected_classes: Option<usize>) -> Result<CostMatrix> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        // Enough cells to tell that a line is too wide, and no more: a
        // line's cells are not all held at once.
        .map(|(number, line)| (number, line.split(',').map(str::trim).take(MAX_CLASSES + 2).collect::<Vec<_>>()))
        .peekable();

    let header_line = lines.peek().map_or(1, |(line, _)| *line);
    let header = match lines.peek() {
        Some((_, cells)) if cells.iter().any(|cell| cell.parse::<f64>().is_err()) && !is_labelled_row(cells) => {
            lines.next().map(|(_, cells)| cells)
        }
        _ => None,
    };
    if header.as_ref().is_some_and(|cells| cells.len() > MAX_CLASSES + 1) {
        let message = format!("the header names more than {MAX_CLASSES} classes, the limit of a cost matrix");
        return Err(CostError::Line { line: header_line, message });
    }
    let mut rows = Vec::new();
    for (line, cells) in lines {
        if rows.len() == MAX_CLASSES {
            let message = format!("more than {MAX_CLASSES} rows, the limit of a cost matrix's classes");
            return Err(CostError::Line { line, message });
        }
        rows.push(parse_row(line, &cells)?);
    }
    if let Some(expected) = expected_classes.filter(|&m| m != rows.len()) {
        return Err(CostError::ClassCountMismatch { found: rows.len(), expected });
    }

    let names = class_names(header, &rows)?;
    let matrix = CostMatrix::from_rows(rows.into_iter().map(|row| row.costs).collect())?;
    match names {
        Some(names) => matrix.with_names(names),
        None => Ok(matrix),
    }
}

/// A first line like `cat,0,1,...` is a labelled data row, not a header.
fn is_labelled_row(cells: &[&str]) -> bool {
    cells.len() > 1 && cells[1..].iter().all(|cell| cell.parse::<f64>().is_ok())
}

fn parse_row(line: usize, cells: &[&str]) -> Result<Row> {
    let (label, numbers) = match cells.first() {
        Some(first) if first.parse::<f64>().is_err() => (Some((*first).to_owned()), &cells[1..]),
        _ => (None, cells),
    };
    if numbers.len() > MAX_CLASSES {
        let message = format!("more than {MAX_CLASSES} costs, the limit of a cost matrix's classes");
        return Err(CostError::Line { line, message });
    }
    let costs = numbers
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            cell.parse::<f64>().map_err(|_| {
                let column = i + 1 + usize::from(label.is_some());
                CostError::Line { line, message: format!("column {column} is {cell:?}, expected a number") }
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Row { line, label, costs })
}

/// Names from the header, from the row labels, or both (which must agree).
fn class_names(header: Option<Vec<&str>>, rows: &[Row]) -> Result<Option<Vec<String>>> {
    let from_header = header.map(|cells| {
        let skip = usize::from(cells.len() == rows.len() + 1);
        cells[skip..].iter().map(|name| (*name).to_owned()).collect::<Vec<_>>()
    });
    let labelled = rows.iter().filter(|row| row.label.is_some()).count();
    if labelled == 0 {
        return Ok(from_header);
    }
    if let Some(row) = rows.iter().find(|row| row.label.is_none()) {
        let message = "has no class name, expected one like the other rows".to_owned();
        return Err(CostError::Line { line: row.line, message });
    }
    let from_labels: Vec<String> = rows.iter().filter_map(|row| row.label.clone()).collect();
    if let Some(header) = &from_header
        && let Some((row, (label, name))) =
            rows.iter().zip(from_labels.iter().zip(header)).find(|(_, (label, name))| label != name)
    {
        let message = format!("row name {label:?} differs from the header's {name:?}");
        return Err(CostError::Line { line: row.line, message });
    }
    Ok(Some(from_labels))
}
