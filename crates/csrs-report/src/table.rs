//! The metrics table of one or more runs (SPEC §8): clean accuracy,
//! certified accuracy and certified cost-sensitive robustness at each
//! radius, average certified radii, every fraction with its exact 95%
//! interval over the test examples; markdown to read, TSV or JSONL to load.

use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use csrs_artifacts::{CertificationFiles, Setting, Spelling, Worded};
use csrs_records::{CertifyRow, Settings, Unfinished, mean_draws, out_of_draws, read_rows};
use csrs_stats::Alpha;
use csrs_stats::metrics::{CertifiedExample, Proportion, Summary, summarize};

/// How a table is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// A table to read or paste; each fraction as `value [low, high]`.
    Markdown,
    /// A header and a line per run; an interval's ends are the columns
    /// `X_low` and `X_high`.
    Tsv,
    /// A JSON object per run, with the keys of the TSV columns.
    Jsonl,
}

impl FromStr for TableFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "markdown" => Ok(TableFormat::Markdown),
            "tsv" => Ok(TableFormat::Tsv),
            "jsonl" => Ok(TableFormat::Jsonl),
            _ => Err(format!("unknown format {text:?}, expected markdown, tsv or jsonl")),
        }
    }
}

/// The confidence of every interval: 95%.
pub(crate) const INTERVAL_ALPHA: f64 = 0.05;

/// One run's certification records, read: a row of the table, a set of
/// curves of a figure, one side of a comparison.
#[derive(Debug, Clone)]
pub struct Run {
    /// How the table names the records when no labels are given: their path.
    pub records: String,
    /// The run's name in the figure (and the table, with labels).
    pub label: String,
    /// The certified examples, by index.
    pub rows: Vec<CertifyRow>,
    /// The radius of a `--target-radius` run: each input stopped drawing
    /// once its answer there was known, so the run's certified metrics are
    /// exact at this radius only, and bounds at any other.
    pub target_radius: Option<f64>,
}

impl Run {
    /// The run whose records are at `path`, named `label`, with its target
    /// radius from the settings beside them; records of a run that has not
    /// finished are read or refused as `unfinished` says.
    ///
    /// # Errors
    /// What [`read_rows`] says, records without examples, and settings that
    /// cannot be read.
    pub fn read(path: &Path, label: String, unfinished: Unfinished) -> anyhow::Result<Self> {
        let rows = read_rows::<CertifyRow>(path, unfinished)?;
        if rows.is_empty() {
            bail!("{}: no certified examples", path.display());
        }
        let settings = Settings::of_run(path)?;
        let target_radius = settings
            .map(|settings| settings.target_radius())
            .transpose()
            .with_context(|| CertificationFiles::new(path).resolved_config().display().to_string())?
            .flatten();
        Ok(Run { records: path.display().to_string(), label, rows, target_radius })
    }

    /// The examples as the metrics see them.
    pub fn examples(&self) -> Vec<CertifiedExample> {
        self.rows.iter().map(CertifyRow::example).collect()
    }

    /// Whether this run's certified metrics at `radius` are only bounds: a
    /// `--target-radius` run decided its inputs at its target radius alone
    /// (more draws could certify more elsewhere).
    pub fn bounds_only_at(&self, radius: f64) -> bool {
        self.target_radius.is_some_and(|target| target != radius)
    }

    /// Whether any of this run's certified metrics is only a bound.
    fn bounds_only(&self) -> bool {
        self.target_radius.is_some()
    }
}

/// A run with its metrics.
struct Analysed<'a> {
    run: &'a Run,
    summary: Summary,
    /// Estimation draws per example, on average, when the records say.
    mean_draws: Option<f64>,
    /// Inputs whose draws ran out before their stop rule was answered,
    /// when the records say how their rounds ended.
    out_of_draws: Option<usize>,
}

/// One cell of the table.
enum Cell {
    Text(String),
    /// A number of examples, when there is one.
    Count(Option<usize>),
    /// A fraction of examples, with its interval; `None` when there are no
    /// examples to count.
    Fraction(Option<Proportion>),
    /// A mean cost.
    Mean(Option<f64>),
    /// A radius: printed rounded toward zero, like every radius csrs prints.
    Radius(Option<f64>),
    /// A number as the run was given it (a setting), every digit.
    Given(Option<f64>),
    /// A value that bounds its metric rather than measuring it (a
    /// `--target-radius` run away from its radius): marked `≥` in markdown,
    /// and left out (empty, null) of TSV and JSON, so that no one loads it
    /// as the metric.
    Bound(Box<Cell>),
}

impl Cell {
    /// `cell`, or its bound when `bound`.
    fn bound_if(bound: bool, cell: Cell) -> Cell {
        if bound { Cell::Bound(Box::new(cell)) } else { cell }
    }

    /// Whether the cell is a fraction, with its interval's two columns.
    fn is_fraction(&self) -> bool {
        match self {
            Cell::Fraction(_) => true,
            Cell::Bound(inner) => inner.is_fraction(),
            _ => false,
        }
    }

    /// The interval of a fraction cell.
    fn interval(&self) -> Option<(f64, f64)> {
        match self {
            Cell::Fraction(Some(p)) => p.interval(Alpha::new(INTERVAL_ALPHA).expect("a valid level")),
            _ => None,
        }
    }

    /// The cell's text in TSV, and its columns' texts for a fraction:
    /// value, low, high.
    fn texts(&self) -> Vec<String> {
        let number = |x: f64| format!("{x:.4}");
        match self {
            Cell::Text(text) => vec![text.clone()],
            Cell::Count(count) => vec![count.map_or_else(String::new, |count| count.to_string())],
            Cell::Fraction(p) => {
                let (low, high) =
                    self.interval().map_or((String::new(), String::new()), |(l, h)| (number(l), number(h)));
                vec![p.map_or_else(String::new, |p| number(p.value())), low, high]
            }
            Cell::Mean(x) => vec![x.map_or_else(String::new, number)],
            Cell::Radius(x) => vec![x.map_or_else(String::new, radius_text)],
            Cell::Given(x) => vec![x.map_or_else(String::new, |x| x.to_string())],
            Cell::Bound(inner) => vec![String::new(); inner.texts().len()],
        }
    }

    /// The cell's JSON values, as many as [`Cell::texts`].
    fn json(&self) -> Vec<serde_json::Value> {
        use serde_json::{Value, json};
        let number = |x: Option<f64>| x.map_or(Value::Null, |x| json!(x));
        match self {
            Cell::Text(text) => vec![json!(text)],
            Cell::Count(count) => vec![count.map_or(Value::Null, |count| json!(count))],
            Cell::Fraction(p) => {
                let interval = self.interval();
                vec![number(p.map(Proportion::value)), number(interval.map(|i| i.0)), number(interval.map(|i| i.1))]
            }
            Cell::Mean(x) | Cell::Given(x) => vec![number(*x)],
            Cell::Radius(Some(x)) if x.is_infinite() => vec![json!("inf")],
            Cell::Radius(x) => vec![number(*x)],
            Cell::Bound(inner) => vec![Value::Null; inner.json().len()],
        }
    }

    /// The cell in markdown, unemphasised: a fraction as `value [low,
    /// high]`, a bound after `≥`, nothing as `–`.
    fn markdown(&self) -> String {
        match (self, self.interval()) {
            (Cell::Fraction(Some(p)), Some((low, high))) => format!("{:.4} [{low:.2}, {high:.2}]", p.value()),
            (Cell::Bound(inner), _) => format!("≥{}", inner.markdown()),
            _ => {
                let text = self.texts().swap_remove(0);
                if text.is_empty() { "–".to_owned() } else { text }
            }
        }
    }
}

/// One column: its name, whether the markdown table shows it, and a cell
/// per run.
struct Column {
    name: String,
    in_markdown: bool,
    cells: Vec<Cell>,
}

impl Column {
    /// The TSV/JSON column names: a fraction has three.
    fn names(&self) -> Vec<String> {
        if self.cells.first().is_some_and(Cell::is_fraction) {
            vec![self.name.clone(), format!("{}_low", self.name), format!("{}_high", self.name)]
        } else {
            vec![self.name.clone()]
        }
    }
}

/// The table's columns; the markdown table names each run by its label
/// when labels were given (`named`), else by its file.
fn columns(runs: &[Analysed<'_>], radii: &[f64], named: bool) -> Vec<Column> {
    let column = |name: String, in_markdown: bool, cell: &dyn Fn(&Analysed<'_>) -> Cell| Column {
        name,
        in_markdown,
        cells: runs.iter().map(cell).collect(),
    };
    // The clean accuracy is the certified accuracy at radius 0, and the
    // average radii sum every radius.
    let everywhere = |run: &Analysed<'_>, cell: Cell| Cell::bound_if(run.run.bounds_only(), cell);
    let mut columns = vec![
        column("records".into(), !named, &|run| Cell::Text(run.run.records.clone())),
        column("label".into(), named, &|run| Cell::Text(run.run.label.clone())),
        column("examples".into(), true, &|run| Cell::Count(Some(run.summary.n_examples))),
        column("sensitive".into(), true, &|run| Cell::Count(Some(run.summary.n_sensitive))),
        column("clean_accuracy".into(), true, &|run| everywhere(run, Cell::Fraction(Some(run.summary.clean_accuracy)))),
    ];
    let any_base = runs.iter().any(|run| run.summary.base_accuracy.is_some());
    columns.push(column("base_accuracy".into(), any_base, &|run| Cell::Fraction(run.summary.base_accuracy)));
    let at = |run: &Analysed<'_>, radius: f64, cell: Cell| Cell::bound_if(run.run.bounds_only_at(radius), cell);
    for (i, &r) in radii.iter().enumerate() {
        columns.push(column(format!("certified_accuracy@{r}"), true, &|run| {
            at(run, r, Cell::Fraction(Some(run.summary.at_radius[i].certified_accuracy)))
        }));
    }
    for (i, &r) in radii.iter().enumerate() {
        columns.push(column(format!("cs_robustness@{r}"), true, &|run| {
            at(run, r, Cell::Fraction(run.summary.at_radius[i].certified_cs_robustness))
        }));
    }
    for (i, &r) in radii.iter().enumerate() {
        columns.push(column(format!("cs_robustness_standard@{r}"), false, &|run| {
            at(run, r, Cell::Fraction(run.summary.at_radius[i].standard_cs_robustness))
        }));
    }
    for (i, &r) in radii.iter().enumerate() {
        columns.push(column(format!("certified_cost@{r}"), false, &|run| {
            at(run, r, Cell::Mean(run.summary.at_radius[i].certified_robust_cost))
        }));
    }
    columns.push(column("acr".into(), true, &|run| {
        everywhere(run, Cell::Radius(Some(run.summary.average_certified_radius)))
    }));
    columns.push(column("acr_cs".into(), true, &|run| everywhere(run, Cell::Radius(run.summary.average_cs_radius))));
    columns.push(column("mean_draws".into(), false, &|run| Cell::Mean(run.mean_draws)));
    columns.push(column("target_radius".into(), false, &|run| Cell::Given(run.run.target_radius)));
    let any_decided = runs.iter().any(|run| run.out_of_draws.is_some());
    columns.push(column("out_of_draws".into(), any_decided, &|run| Cell::Count(run.out_of_draws)));
    columns
}

/// The table of `runs` at `radii`, in `format`; the markdown table names
/// each run by its label when `named`, else by its records' path, and its
/// notes name settings as `spelling` spells them.
///
/// # Errors
/// A radius that is negative or not finite.
pub fn table(
    runs: &[Run],
    radii: &[f64],
    format: TableFormat,
    named: bool,
    spelling: &dyn Spelling,
) -> anyhow::Result<String> {
    check_radii(radii)?;
    let runs: Vec<Analysed<'_>> = runs
        .iter()
        .map(|run| Analysed {
            run,
            summary: summarize(&run.examples(), radii),
            mean_draws: mean_draws(&run.rows),
            out_of_draws: out_of_draws(&run.rows),
        })
        .collect();
    let columns = columns(&runs, radii, named);
    let mut out = String::new();
    match format {
        TableFormat::Tsv => {
            let names: Vec<String> = columns.iter().flat_map(Column::names).collect();
            let _ = writeln!(out, "{}", names.join("\t"));
            for row in 0..runs.len() {
                let texts: Vec<String> = columns.iter().flat_map(|c| c.cells[row].texts()).collect();
                let _ = writeln!(out, "{}", texts.join("\t"));
            }
        }
        TableFormat::Jsonl => {
            for row in 0..runs.len() {
                let object: serde_json::Map<String, serde_json::Value> =
                    columns.iter().flat_map(|c| c.names().into_iter().zip(c.cells[row].json())).collect();
                let _ = writeln!(out, "{}", serde_json::Value::Object(object));
            }
        }
        TableFormat::Markdown => {
            markdown(&mut out, &columns, runs.len());
            bound_notes(&mut out, &runs, radii, named, spelling);
        }
    }
    Ok(out)
}

/// Fails on a radius that is negative or not finite.
///
/// # Errors
/// The first such radius.
pub fn check_radii(radii: &[f64]) -> anyhow::Result<()> {
    match radii.iter().find(|r| !(r.is_finite() && **r >= 0.0)) {
        Some(&bad) => Err(Worded::new(move |s| {
            format!("{}: {bad} is not a radius, expected finite numbers >= 0", s.name(Setting::Radii))
        })
        .into()),
        None => Ok(()),
    }
}

/// The markdown table: each fraction as `value [low, high]`. With several
/// runs, the best value of each fraction column is in bold, and `°` marks
/// the values whose interval overlaps the best one's: those differences are
/// within what the test examples can resolve.
fn markdown(out: &mut String, columns: &[Column], n_runs: usize) {
    let shown: Vec<&Column> = columns.iter().filter(|c| c.in_markdown).collect();
    let names: Vec<&str> = shown.iter().map(|c| c.name.as_str()).collect();
    let _ = writeln!(out, "| {} |", names.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(names.len()));
    let best: Vec<Option<usize>> = shown.iter().map(|c| best_fraction(c).filter(|_| n_runs > 1)).collect();
    let mut marked = false;
    for row in 0..n_runs {
        let cells: Vec<String> = shown
            .iter()
            .zip(&best)
            .map(|(column, best)| {
                let cell = &column.cells[row];
                let (Cell::Fraction(Some(p)), Some((low, high))) = (cell, cell.interval()) else {
                    return cell.markdown();
                };
                let value = format!("{:.4}", p.value());
                let mark = match *best {
                    Some(best) if best == row => format!("**{value}**"),
                    Some(best) if overlaps(cell, &column.cells[best]) => {
                        marked = true;
                        format!("{value}°")
                    }
                    _ => value,
                };
                format!("{mark} [{low:.2}, {high:.2}]")
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(
        out,
        "\nBrackets: 95% Clopper–Pearson intervals over the test examples (sensitive ones for cs_robustness)."
    );
    if marked {
        let _ = writeln!(
            out,
            "°: the interval overlaps that of the best value in its column (bold); the difference is not resolved by these examples."
        );
    }
}

/// The notes under a markdown table with bounds in it (`≥`), naming each
/// `--target-radius` run and where it is exact, and what `out_of_draws`
/// counts.
fn bound_notes(out: &mut String, runs: &[Analysed<'_>], radii: &[f64], named: bool, spelling: &dyn Spelling) {
    let targets: Vec<(&str, f64)> = runs
        .iter()
        .filter_map(|run| {
            let name = if named { &run.run.label } else { &run.run.records };
            run.run.target_radius.map(|radius| (name.as_str(), radius))
        })
        .collect();
    if !targets.is_empty() {
        let named: Vec<String> = targets.iter().map(|(name, radius)| format!("{name} at radius {radius}")).collect();
        let _ = writeln!(
            out,
            "≥: a lower bound, not the metric: a {} run ({}) stops drawing for each input once its answer at that \
             radius is known, so its certified metrics are exact there only (clean accuracy and average radii \
             included).",
            spelling.name(Setting::TargetRadius),
            named.join(", ")
        );
        let missing: Vec<String> = targets
            .iter()
            .filter(|(_, radius)| !radii.contains(radius))
            .map(|(_, radius)| radius.to_string())
            .collect();
        if !missing.is_empty() {
            let _ = writeln!(
                out,
                "{} gives them where they are exact.",
                spelling.given(Setting::Radii, &missing.join(","))
            );
        }
    }
    if runs.iter().any(|run| run.out_of_draws.is_some()) {
        let _ = writeln!(
            out,
            "out_of_draws: inputs whose n draws ran out before their answer was known (more draws could still \
             certify them)."
        );
    }
}

/// The row with the largest value of a fraction column.
fn best_fraction(column: &Column) -> Option<usize> {
    let value = |cell: &Cell| match cell {
        Cell::Fraction(Some(p)) => Some(p.value()),
        _ => None,
    };
    column
        .cells
        .iter()
        .enumerate()
        .filter_map(|(row, cell)| value(cell).map(|v| (row, v)))
        .fold(None, |best: Option<(usize, f64)>, (row, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((row, v)),
        })
        .map(|(row, _)| row)
}

fn overlaps(a: &Cell, b: &Cell) -> bool {
    match (a.interval(), b.interval()) {
        (Some((a_low, a_high)), Some((b_low, b_high))) => a_low <= b_high && b_low <= a_high,
        _ => false,
    }
}

/// A radius as csrs prints it: four decimals, rounded toward zero (never
/// up), `inf` when infinite.
pub fn radius_text(radius: f64) -> String {
    // `+ 0.0` turns -0.0 (the sum of no radii) into 0.0, so no "-0.0000".
    if radius.is_infinite() { "inf".to_owned() } else { format!("{:.4}", (radius * 1e4).floor() / 1e4 + 0.0) }
}

#[cfg(test)]
mod tests {
    use super::radius_text;

    #[test]
    fn radii_are_printed_rounded_down_and_never_as_negative_zero() {
        assert_eq!(radius_text(0.123_49), "0.1234");
        assert_eq!(radius_text(f64::INFINITY), "inf");
        // The mean of no certified radius.
        assert_eq!(radius_text([].iter().sum::<f64>() / 1.0), "0.0000");
        assert_eq!(radius_text(-0.0), "0.0000");
    }
}
