//! Mutations of valid TOML files, for the fuzz tests of their readers.

use proptest::prelude::*;

/// A value that could stand where any other stands.
pub(crate) fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("nan".to_owned()),
        Just("inf".to_owned()),
        Just("1e400".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("\"gaussian\"".to_owned()),
        Just("\"\"".to_owned()),
        Just("[]".to_owned()),
        Just("{ kind = \"adam\" }".to_owned()),
        Just("true".to_owned()),
        (0.0..100.0f64).prop_map(|x| x.to_string()),
    ]
}

/// `text` with the value of line `line` (modulo the line count)
/// replaced by `value`, with that line dropped, and cut at the fraction
/// `cut` of its length.
pub(crate) fn mutated(text: &str, line: usize, value: &str, cut: f64) -> [String; 3] {
    let lines: Vec<&str> = text.lines().collect();
    let target = line % lines.len();
    let replaced: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| match l.split_once(" = ") {
            Some((key, _)) if i == target => format!("{key} = {value}"),
            _ => (*l).to_owned(),
        })
        .collect();
    let dropped: Vec<&str> = lines.iter().enumerate().filter(|(i, _)| *i != target).map(|(_, l)| *l).collect();
    let end = ((text.len() as f64 * cut) as usize).min(text.len());
    [replaced.join("\n"), dropped.join("\n"), text.get(..end).unwrap_or(text).to_owned()]
}
