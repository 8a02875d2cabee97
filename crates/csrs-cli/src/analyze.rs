//! `csrs analyze`: metrics tables and figures from certification records
//! (SPEC §8).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;
use csrs_artifacts::{CertificationFiles, Existing, check_output};
use csrs_models::CheckpointMeta;
use csrs_sampling::NoiseKind;
use csrs_stats::Alpha;
use csrs_stats::metrics::{CertifiedExample, Proportion, Summary, summarize};

use crate::certify::{CertifyRow, mean_draws};
use crate::figure;
use crate::records::{Unfinished, read_rows, settings_of_run};

/// Summarise the records of one or more `csrs certify` runs, one row per
/// file: clean accuracy of the smoothed classifier (and of the base model on
/// clean inputs, when recorded), certified accuracy and certified
/// cost-sensitive robustness (over sensitive examples) at each radius, and
/// the average certified radius, standard and cost-sensitive.
///
/// Every fraction comes with its exact 95% interval over the test examples
/// (two-sided Clopper–Pearson): how far the fraction of the whole
/// distribution can be from the one measured on these examples. Abstains are
/// never counted as correct or robust. Files are only read. Records of a
/// run that has not finished (still being written, or stopped before its
/// end) are refused unless --partial.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  csrs analyze results/digits-certify.tsv
  csrs analyze --radii 0,0.5,1 --format tsv results/*.tsv > table.tsv
  csrs analyze a.tsv b.tsv --label gaussian --label macer-cs --plot comparison.svg")]
pub(crate) struct Args {
    /// Radii at which to report the certified metrics, comma-separated
    #[arg(long, value_name = "R,...", value_delimiter = ',', default_value = "0,0.25,0.5,0.75,1")]
    radii: Vec<f64>,
    /// markdown (a table to read or paste), tsv or jsonl (to load elsewhere, with the intervals' ends as columns X_low and X_high, and the standard certificate's cost-sensitive robustness and the certified cost at each radius)
    #[arg(long, value_enum, default_value_t = TableFormat::Markdown)]
    format: TableFormat,
    /// Also draw the metrics against the radius into FILE (.svg or .png): certified accuracy and certified cost-sensitive robustness with their 95% bands, Certify-CS against the standard certificate, and the certified cost when the cost matrix has several levels; one colour per records file, exact at every radius
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Replace an existing --plot file (it is refused otherwise, and always when it is one of the records)
    #[arg(long, requires = "plot")]
    force: bool,
    /// Also analyse records of a run that has not finished (still being written, or stopped before its end; no end mark beside them): their complete records so far, with a note naming each such file
    #[arg(long)]
    partial: bool,
    /// Name of each records file in the figure and the table (where it replaces the file), in the order of the files (default: the model, sigma and cost matrix of its run)
    #[arg(long, value_name = "NAME")]
    label: Vec<String>,
    /// Records written by `csrs certify` (.tsv or .jsonl)
    #[arg(value_name = "FILE", required = true)]
    records: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TableFormat {
    Markdown,
    Tsv,
    Jsonl,
}

/// The confidence of every interval: 95%.
const INTERVAL_ALPHA: f64 = 0.05;

/// One records file, read.
struct Analysed {
    path: String,
    label: String,
    examples: Vec<CertifiedExample>,
    summary: Summary,
    /// Estimation draws per example, on average, when the records say.
    mean_draws: Option<f64>,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        if let Some(bad) = self.radii.iter().find(|r| !(r.is_finite() && **r >= 0.0)) {
            bail!("--radii: {bad} is not a radius, expected finite numbers >= 0");
        }
        if !self.label.is_empty() && self.label.len() != self.records.len() {
            bail!("--label: given {} times, expected once per records file ({})", self.label.len(), self.records.len());
        }
        let plot =
            self.plot.as_deref().map(|path| figure::Format::of(path).map(|format| (path, format))).transpose()?;
        if let Some((path, _)) = plot {
            let inputs: Vec<PathBuf> =
                self.records.iter().flat_map(|records| CertificationFiles::new(records).outputs()).collect();
            check_output(path, &inputs, Existing::from_force(self.force))?;
        }
        let unfinished = if self.partial { Unfinished::Read } else { Unfinished::Refuse };
        let mut runs = Vec::with_capacity(self.records.len());
        for (index, path) in self.records.iter().enumerate() {
            let rows = read_rows::<CertifyRow>(path, unfinished)?;
            let examples: Vec<CertifiedExample> = rows.iter().map(CertifyRow::example).collect();
            let mean_draws = mean_draws(&rows);
            if examples.is_empty() {
                bail!("{}: no certified examples", path.display());
            }
            let label = self.label.get(index).cloned().unwrap_or_else(|| label_of(path));
            let summary = summarize(&examples, &self.radii);
            runs.push(Analysed { path: path.display().to_string(), label, examples, summary, mean_draws });
        }
        if let Some((path, format)) = plot {
            let figure_runs: Vec<figure::Run<'_>> =
                runs.iter().map(|run| figure::Run { label: &run.label, examples: &run.examples }).collect();
            figure::draw(path, format, &figure_runs)?;
        }
        let named = !self.label.is_empty();
        print!("{}", table(&runs, &self.radii, self.format, named));
        Ok(())
    }
}

/// A run's name from its settings: the model (its training method, for a
/// csrs checkpoint that has one), σ (with "sound" for sound noise) and the
/// cost matrix; the file's name when the settings are not beside it.
fn label_of(records: &Path) -> String {
    let stem = |path: &Path| path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let Ok(Some(options)) = settings_of_run(records) else { return stem(records) };
    let model = options.model.as_deref().map_or_else(
        || stem(records),
        |model| match CheckpointMeta::read(model).ok().and_then(|meta| meta.training) {
            Some(training) => training.method,
            None => stem(model),
        },
    );
    let mut parts = vec![model];
    let sound = if options.noise == Some(NoiseKind::Sound) { " sound" } else { "" };
    parts.extend(options.sigma.map(|sigma| format!("σ = {sigma}{sound}")));
    parts.push(options.cost.as_deref().map_or_else(|| "standard".to_owned(), stem));
    parts.join(", ")
}

/// One cell of the table.
enum Cell {
    Text(String),
    Count(usize),
    /// A fraction of examples, with its interval; `None` when there are no
    /// examples to count.
    Fraction(Option<Proportion>),
    /// A mean cost.
    Mean(Option<f64>),
    /// A radius: printed rounded toward zero, like every radius csrs prints.
    Radius(Option<f64>),
}

impl Cell {
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
            Cell::Count(count) => vec![count.to_string()],
            Cell::Fraction(p) => {
                let (low, high) =
                    self.interval().map_or((String::new(), String::new()), |(l, h)| (number(l), number(h)));
                vec![p.map_or_else(String::new, |p| number(p.value())), low, high]
            }
            Cell::Mean(x) => vec![x.map_or_else(String::new, number)],
            Cell::Radius(x) => vec![x.map_or_else(String::new, radius_text)],
        }
    }

    /// The cell's JSON values, as many as [`Cell::texts`].
    fn json(&self) -> Vec<serde_json::Value> {
        use serde_json::{Value, json};
        let number = |x: Option<f64>| x.map_or(Value::Null, |x| json!(x));
        match self {
            Cell::Text(text) => vec![json!(text)],
            Cell::Count(count) => vec![json!(count)],
            Cell::Fraction(p) => {
                let interval = self.interval();
                vec![number(p.map(Proportion::value)), number(interval.map(|i| i.0)), number(interval.map(|i| i.1))]
            }
            Cell::Mean(x) => vec![number(*x)],
            Cell::Radius(Some(x)) if x.is_infinite() => vec![json!("inf")],
            Cell::Radius(x) => vec![number(*x)],
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
        match self.cells.first() {
            Some(Cell::Fraction(_)) => {
                vec![self.name.clone(), format!("{}_low", self.name), format!("{}_high", self.name)]
            }
            _ => vec![self.name.clone()],
        }
    }
}

/// The table's columns; the markdown table names each run by its label
/// when labels were given (`named`), else by its file.
fn columns(runs: &[Analysed], radii: &[f64], named: bool) -> Vec<Column> {
    let column = |name: String, in_markdown: bool, cell: &dyn Fn(&Analysed) -> Cell| Column {
        name,
        in_markdown,
        cells: runs.iter().map(cell).collect(),
    };
    let mut columns = vec![
        column("records".into(), !named, &|run| Cell::Text(run.path.clone())),
        column("label".into(), named, &|run| Cell::Text(run.label.clone())),
        column("examples".into(), true, &|run| Cell::Count(run.summary.n_examples)),
        column("sensitive".into(), true, &|run| Cell::Count(run.summary.n_sensitive)),
        column("clean_accuracy".into(), true, &|run| Cell::Fraction(Some(run.summary.clean_accuracy))),
    ];
    let any_base = runs.iter().any(|run| run.summary.base_accuracy.is_some());
    columns.push(column("base_accuracy".into(), any_base, &|run| Cell::Fraction(run.summary.base_accuracy)));
    for (i, r) in radii.iter().enumerate() {
        columns.push(column(format!("certified_accuracy@{r}"), true, &|run| {
            Cell::Fraction(Some(run.summary.at_radius[i].certified_accuracy))
        }));
    }
    for (i, r) in radii.iter().enumerate() {
        columns.push(column(format!("cs_robustness@{r}"), true, &|run| {
            Cell::Fraction(run.summary.at_radius[i].certified_cs_robustness)
        }));
    }
    for (i, r) in radii.iter().enumerate() {
        columns.push(column(format!("cs_robustness_standard@{r}"), false, &|run| {
            Cell::Fraction(run.summary.at_radius[i].standard_cs_robustness)
        }));
    }
    for (i, r) in radii.iter().enumerate() {
        columns.push(column(format!("certified_cost@{r}"), false, &|run| {
            Cell::Mean(run.summary.at_radius[i].certified_robust_cost)
        }));
    }
    columns.push(column("acr".into(), true, &|run| Cell::Radius(Some(run.summary.average_certified_radius))));
    columns.push(column("acr_cs".into(), true, &|run| Cell::Radius(run.summary.average_cs_radius)));
    columns.push(column("mean_draws".into(), false, &|run| Cell::Mean(run.mean_draws)));
    columns
}

fn table(runs: &[Analysed], radii: &[f64], format: TableFormat, named: bool) -> String {
    let columns = columns(runs, radii, named);
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
        TableFormat::Markdown => markdown(&mut out, &columns, runs.len()),
    }
    out
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
                    let text = cell.texts().swap_remove(0);
                    return if text.is_empty() { "–".to_owned() } else { text };
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
pub(crate) fn radius_text(radius: f64) -> String {
    if radius.is_infinite() { "inf".to_owned() } else { format!("{:.4}", (radius * 1e4).floor() / 1e4) }
}
