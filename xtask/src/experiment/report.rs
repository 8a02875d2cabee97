//! The report of a grid, `report.md`: per dataset, cost matrix and σ, a
//! table of the methods' accuracies and robustness, read from
//! `csrs analyze`, and the figure it draws of them.

use std::fmt::Write as _;
use std::fs;
use std::num::NonZeroU64;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use super::grid::{Grid, Run};

/// A row of `csrs analyze --format tsv`: (column, cell) pairs.
type Row = Vec<(String, String)>;

/// Runs `csrs analyze ARGS` in the project root and reads its table.
pub(super) fn analyze(csrs: &Path, root: &Path, args: &[String]) -> anyhow::Result<Vec<Row>> {
    let output = Command::new(csrs).current_dir(root).args(args).output().context("cannot run csrs analyze")?;
    if !output.status.success() {
        bail!("csrs analyze failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let text = String::from_utf8(output.stdout).context("csrs analyze wrote something else than text")?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    Ok(lines
        .map(|line| header.iter().map(|h| (*h).to_owned()).zip(line.split('\t').map(str::to_owned)).collect())
        .collect())
}

/// The `csrs analyze` arguments of one table: the records of its runs
/// against `cost`, and its figure, with one curve per run named by method.
fn analyze_args(grid: &Grid, group: &[&Run<'_>], cost: &str, figure: &Path) -> Vec<String> {
    let radii: Vec<String> = grid.radii.iter().map(f64::to_string).collect();
    let mut args: Vec<String> = ["analyze", "--format", "tsv", "--radii"].map(String::from).to_vec();
    // The figure is the report's own, drawn again with it.
    args.extend([radii.join(","), "--force".to_owned(), "--plot".to_owned(), figure.display().to_string()]);
    for run in group {
        args.extend(["--label".to_owned(), run.method.to_owned()]);
    }
    args.extend(group.iter().map(|run| run.certification(cost).records().display().to_string()));
    args
}

/// The `csrs analyze --compare` arguments of one table: each run of the
/// group against the first, on the same records as the table.
fn compare_args(grid: &Grid, group: &[&Run<'_>], cost: &str) -> Vec<String> {
    let radii: Vec<String> = grid.radii.iter().map(f64::to_string).collect();
    let mut args: Vec<String> = ["analyze", "--compare", "--format", "tsv", "--radii"].map(String::from).to_vec();
    args.push(radii.join(","));
    for run in group {
        args.extend(["--label".to_owned(), run.method.to_owned()]);
    }
    args.extend(group.iter().map(|run| run.certification(cost).records().display().to_string()));
    args
}

/// McNemar's p-values of each method against the group's first, per
/// metric and radius, from the rows of `csrs analyze --compare`.
fn paired(grid: &Grid, group: &[&Run<'_>], rows: &[Row]) -> String {
    let metrics = [("certified_accuracy", "cert. acc."), ("cs_robustness", "CS robust")];
    let columns: Vec<(&str, String, String)> = metrics
        .iter()
        .flat_map(|(metric, name)| grid.radii.iter().map(move |r| (*metric, r.to_string(), format!("{name} {r}"))))
        .collect();
    let mut header = vec![format!("p against {}", group[0].method)];
    header.extend(columns.iter().map(|(_, _, name)| name.clone()));
    let mut text = format!("\n| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
    for run in &group[1..] {
        let mut cells = vec![run.method.to_owned()];
        for (metric, radius, _) in &columns {
            let found = rows.iter().find(|row| {
                cell(row, "run") == run.method && cell(row, "metric") == *metric && cell(row, "radius") == *radius
            });
            let p = found.and_then(|row| cell(row, "p_value").parse::<f64>().ok());
            cells.push(p.map_or(String::new(), |p| if p >= 0.001 { format!("{p:.3}") } else { format!("{p:.1e}") }));
        }
        let _ = writeln!(text, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(
        text,
        "\np: McNemar's exact test on the test examples right by one method only, paired with {} (`csrs analyze --compare`).",
        group[0].method
    );
    text
}

/// Seconds of training, from the per-epoch log.
fn training_seconds(root: &Path, run: &Run<'_>) -> Option<f64> {
    let log = fs::read_to_string(root.join(run.model().log())).ok()?;
    let mut lines = log.lines();
    let column = lines.next()?.split(',').position(|c| c == "seconds")?;
    lines.map(|line| line.split(',').nth(column).and_then(|s| s.parse::<f64>().ok())).sum()
}

/// The folder of the figures, beside the report, which links them relatively.
pub(super) const FIGURES: &str = "figures";

/// One table and one figure per dataset, cost matrix and σ, one row and one
/// curve per method; `analyze` runs `csrs analyze` with the arguments given.
pub(super) fn report(
    root: &Path,
    grid: &Grid,
    runs: &[Run<'_>],
    out: &Path,
    file: &str,
    mut analyze: impl FnMut(&[String]) -> anyhow::Result<Vec<Row>>,
) -> anyhow::Result<String> {
    let mut text = String::new();
    let _ = writeln!(text, "# {}\n\n{}\n\nProduced by `cargo xtask experiment {file}`.", grid.name, grid.description);
    let certify: Vec<String> = grid.certify.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let _ = writeln!(text, "Certification: {}.", certify.join(", "));
    let _ = writeln!(
        text,
        "Brackets are 95% Clopper–Pearson intervals over the test examples (accuracies) or the sensitive examples (CS robust)."
    );
    for dataset in &grid.datasets {
        for (cost, cost_file) in &dataset.costs {
            for &sigma in &grid.sigmas {
                let group: Vec<&Run<'_>> = runs
                    .iter()
                    .filter(|r| r.dataset.name == dataset.name && r.sigma == sigma)
                    .filter(|r| r.cost.is_none_or(|(own, _)| own == cost))
                    .collect();
                let figure = format!("{}-{cost}-sigma{sigma}.svg", dataset.name);
                let rows = analyze(&analyze_args(grid, &group, cost, &out.join(FIGURES).join(&figure)))?;
                if rows.len() != group.len() {
                    bail!("csrs analyze gave {} rows for the {} runs of {figure}", rows.len(), group.len());
                }
                let which =
                    if dataset.skip == NonZeroU64::MIN { String::new() } else { format!(" (one in {})", dataset.skip) };
                let _ = writeln!(
                    text,
                    "\n## {} ({}), cost `{cost_file}`, σ = {sigma}\n\n{} test examples{which}, {} of them sensitive.\n",
                    dataset.name,
                    dataset.architecture,
                    rows.first().map_or(String::new(), |r| cell(r, "examples")),
                    rows.first().map_or(String::new(), |r| cell(r, "sensitive")),
                );
                text.push_str(&table(root, grid, &group, &rows));
                if group.len() > 1 {
                    text.push_str(&paired(grid, &group, &analyze(&compare_args(grid, &group, cost))?));
                }
                let _ = writeln!(text, "\n![{}, {cost}, σ = {sigma}]({FIGURES}/{figure})", dataset.name);
            }
        }
    }
    Ok(text)
}

/// One row per run of a group, from its row of `csrs analyze`.
fn table(root: &Path, grid: &Grid, group: &[&Run<'_>], rows: &[Row]) -> String {
    let radii = |prefix: &str| grid.radii.iter().map(|r| format!("{prefix} {r}")).collect::<Vec<_>>();
    // Records made before csrs recorded the base model's prediction have
    // no base accuracy: no column for them.
    let base = rows.iter().any(|row| !cell(row, "base_accuracy").is_empty());
    let mut header = vec!["method".to_owned(), "clean acc.".to_owned()];
    if base {
        header.push("base acc.".to_owned());
    }
    header.extend(radii("cert. acc."));
    header.extend(radii("CS robust"));
    header.extend(["ACR".to_owned(), "ACR (CS)".to_owned(), "train s".to_owned()]);
    let mut text = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
    for (run, row) in group.iter().zip(rows) {
        let mut cells = vec![run.method.to_owned(), with_interval(row, "clean_accuracy")];
        if base {
            cells.push(with_interval(row, "base_accuracy"));
        }
        cells.extend(grid.radii.iter().map(|r| cell(row, &format!("certified_accuracy@{r}"))));
        cells.extend(grid.radii.iter().map(|r| with_interval(row, &format!("cs_robustness@{r}"))));
        cells.push(cell(row, "acr"));
        cells.push(cell(row, "acr_cs"));
        cells.push(training_seconds(root, run).map_or(String::new(), |s| format!("{s:.0}")));
        let _ = writeln!(text, "| {} |", cells.join(" | "));
    }
    text
}

/// A cell of `csrs analyze`'s row, empty when the column is missing.
fn cell(row: &Row, column: &str) -> String {
    row.iter().find(|(name, _)| name == column).map_or(String::new(), |(_, value)| value.clone())
}

/// A fraction and its 95% interval, `0.7450 [0.60, 0.86]`, when `csrs
/// analyze` gave one (`<column>_low`, `<column>_high`); the value alone
/// otherwise.
fn with_interval(row: &Row, column: &str) -> String {
    let value = cell(row, column);
    let bound = |side: &str| cell(row, &format!("{column}_{side}")).parse::<f64>().ok();
    match (bound("low"), bound("high")) {
        (Some(low), Some(high)) if !value.is_empty() => format!("{value} [{low:.2}, {high:.2}]"),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::grid::{runs, shipped};

    #[test]
    fn the_report_has_a_table_and_a_figure_per_dataset_cost_and_sigma() {
        let grid = shipped("cs-cpu.toml");
        let out = Path::new("results/cs-cpu");
        let runs = runs(&grid, out);
        let mut calls = Vec::new();
        let report = report(Path::new("nowhere"), &grid, &runs, out, "configs/experiments/cs-cpu.toml", |args| {
            calls.push(args.to_vec());
            if args.iter().any(|arg| arg == "--compare") {
                let labels: Vec<&String> = args.iter().skip_while(|a| *a != "--label").skip(1).step_by(2).collect();
                let row = |run: &String| {
                    [("run", run.as_str()), ("metric", "certified_accuracy"), ("radius", "0"), ("p_value", "0.0004")]
                        .map(|(column, value)| (column.to_owned(), value.to_owned()))
                        .to_vec()
                };
                return Ok(labels[1..].iter().map(|run| row(run)).collect());
            }
            let records = args.iter().filter(|arg| arg.ends_with(".tsv"));
            let row = |records: &String| {
                // Base accuracies on mnist-5k only, as if its records were newer.
                let base = |value| if records.contains("mnist") { value } else { "" };
                [
                    ("records", records.as_str()),
                    ("examples", "500"),
                    ("sensitive", "99"),
                    ("clean_accuracy", "0.7450"),
                    ("clean_accuracy_low", "0.6012"),
                    ("clean_accuracy_high", "0.8634"),
                    ("base_accuracy", base("0.9000")),
                    ("base_accuracy_low", base("0.8612")),
                    ("base_accuracy_high", base("0.9311")),
                    ("certified_accuracy@0", "0.7000"),
                    ("certified_accuracy@0_low", "0.6500"),
                    ("certified_accuracy@0_high", "0.7500"),
                    ("cs_robustness@0", "0.5000"),
                    ("cs_robustness@0_low", "0.3981"),
                    ("cs_robustness@0_high", "0.6019"),
                    // As an earlier csrs wrote it: no interval.
                    ("cs_robustness@0.25", "0.4000"),
                ]
                .map(|(column, value)| (column.to_owned(), value.to_owned()))
                .to_vec()
            };
            Ok(records.map(row).collect())
        })
        .unwrap();

        // One `csrs analyze` per dataset, cost matrix and sigma, with its figure
        // and one curve per method, named as the rows are.
        // and one comparison of the methods with the first.
        assert_eq!(calls.len(), 2 * 2 * 2 * 2);
        let compare = calls[1].join(" ");
        assert!(compare.starts_with("analyze --compare --format tsv --radii 0,0.25"), "{compare}");
        assert!(report.contains("| p against gaussian | cert. acc. 0 |"), "{report}");
        assert!(report.contains("\n| macer-cs | 4.0e-4 | "), "{report}");
        let first = calls[0].join(" ");
        let plot = "--plot results/cs-cpu/figures/digits-pair38-sigma0.25.svg";
        let labels = "--label gaussian --label gaussian-cs --label macer --label macer-cs";
        assert!(first.contains(&format!("{plot} {labels} results/cs-cpu/digits/sigma-0.25/gaussian/")), "{first}");
        assert!(first.ends_with("macer-cs-pair38/certify-pair38.tsv"), "{first}");

        assert_eq!(report.matches("\n| method | clean acc. | cert. acc. 0 |").count(), 4);
        assert_eq!(report.matches("\n| method | clean acc. | base acc. | cert. acc. 0 |").count(), 4);
        assert!(report.contains("| 0.7450 [0.60, 0.86] | 0.9000 [0.86, 0.93] | 0.7000 | "), "{report}");
        let brackets = report.find("Brackets are 95% Clopper–Pearson intervals").unwrap();
        assert!(brackets < report.find("| method").unwrap());
        let row = "| macer-cs | 0.7450 [0.60, 0.86] | 0.7000 | ";
        assert!(report.contains(row), "{report}");
        assert!(report.contains("| 0.5000 [0.40, 0.60] | 0.4000 | "), "{report}");
        let link = "\n![digits, pair38, σ = 0.25](figures/digits-pair38-sigma0.25.svg)\n";
        assert!(report.contains(link), "{report}");
        assert_eq!(report.matches("](figures/").count(), 8);
    }
}
