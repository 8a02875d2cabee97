//! `csrs analyze`: the metrics of certification records, in three formats,
//! agreeing with the summary `csrs certify` prints.

use std::path::Path;

use crate::util::{csrs, repo_root};

/// Certifies 40 digits with the shipped Gaussian-trained model into `out`
/// and returns the summary line.
fn certify(dir: &Path, out: &str) -> String {
    certify_at(dir, out, "0.25", "gaussian")
}

/// [`certify`] at noise level `sigma`.
fn certify_at(dir: &Path, out: &str, sigma: &str, noise: &str) -> String {
    certify_with(dir, out, &["--sigma", sigma, "--noise", noise, "--n", "500"])
}

/// Certifies 40 digits with the shipped Gaussian-trained model into `out`,
/// with `options` (σ and n among them), and returns the summary line.
fn certify_with(dir: &Path, out: &str, options: &[&str]) -> String {
    let model = repo_root().join("models/digits-gaussian-025").display().to_string();
    let cost = repo_root().join("configs/costs/digits-seed-3.toml").display().to_string();
    let args = ["certify", "--model", &model, "--dataset", "digits", "--cost", &cost];
    let run = csrs(dir, &[&args[..], options, &["--max", "40", "--out", out]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.stdout
}

/// TSV records `text` without their column `name`, as a csrs from before
/// that column wrote them.
fn without_column(text: &str, name: &str) -> String {
    let column = text.lines().next().unwrap().split('\t').position(|c| c == name).unwrap();
    text.lines()
        .map(|line| {
            let mut cells: Vec<&str> = line.split('\t').collect();
            cells.remove(column);
            cells.join("\t") + "\n"
        })
        .collect()
}

/// The numbers after `label` in a summary line, up to the next `;`.
fn numbers_after(summary: &str, label: &str) -> Vec<f64> {
    let start = summary.find(label).unwrap() + label.len();
    let part = summary[start..].split(';').next().unwrap();
    part.split(", ").map(|x| x.trim().parse().unwrap()).collect()
}

#[test]
fn tables_agree_with_the_certify_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = certify(dir.path(), "c.tsv");
    let run = csrs(dir.path(), &["analyze", "--format", "tsv", "c.tsv"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut lines = run.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let row: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(lines.next(), None);
    let cell = |name: &str| -> f64 { row[header.iter().position(|h| *h == name).unwrap()].parse().unwrap() };
    assert_eq!(cell("examples"), 40.0);
    assert!(cell("sensitive") > 0.0, "some threes among the first 40 digits");

    let accuracy = numbers_after(&summary, "at radius 0, 0.25, 0.5, 0.75, 1: ");
    let robustness = numbers_after(&summary, "sensitive examples): ");
    for (i, radius) in ["0", "0.25", "0.5", "0.75", "1"].iter().enumerate() {
        assert!((cell(&format!("certified_accuracy@{radius}")) - accuracy[i]).abs() < 6e-4, "radius {radius}");
        assert!((cell(&format!("cs_robustness@{radius}")) - robustness[i]).abs() < 6e-4, "radius {radius}");
    }
    assert!(accuracy[0] > 0.8, "the shipped model is accurate: {summary}");
    assert_eq!(cell("clean_accuracy"), cell("certified_accuracy@0"));

    // The same numbers as JSON lines, and as a markdown table.
    let jsonl = csrs(dir.path(), &["analyze", "--format", "jsonl", "--radii", "0.5", "c.tsv"], "");
    let object: serde_json::Value = serde_json::from_str(jsonl.stdout.trim()).unwrap();
    assert_eq!(object["certified_accuracy@0.5"].as_f64().unwrap(), cell("certified_accuracy@0.5"));
    assert_eq!(object["records"], "c.tsv");
    let markdown = csrs(dir.path(), &["analyze", "c.tsv", "c.tsv"], "");
    assert!(markdown.stdout.starts_with("| records | examples | sensitive |"), "{}", markdown.stdout);
    assert_eq!(markdown.stdout.lines().filter(|l| l.starts_with('|')).count(), 4, "{}", markdown.stdout);
}

#[test]
fn every_fraction_carries_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    certify_at(dir.path(), "a.tsv", "0.25", "gaussian");
    certify_at(dir.path(), "b.tsv", "0.5", "gaussian");
    let run = csrs(dir.path(), &["analyze", "--format", "tsv", "--radii", "0,0.25", "a.tsv", "b.tsv"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut lines = run.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    for line in lines {
        let row: Vec<&str> = line.split('\t').collect();
        let cell = |name: &str| -> f64 { row[header.iter().position(|h| *h == name).unwrap()].parse().unwrap() };
        for fraction in
            ["clean_accuracy", "certified_accuracy@0.25", "cs_robustness@0.25", "cs_robustness_standard@0.25"]
        {
            let (low, value, high) =
                (cell(&format!("{fraction}_low")), cell(fraction), cell(&format!("{fraction}_high")));
            assert!(0.0 <= low && low <= value && value <= high && high <= 1.0, "{fraction}: {low} {value} {high}");
            assert!(high - low > 0.05, "{fraction}: 40 examples cannot pin a fraction down to {low}..{high}");
        }
        // Certify-CS certifies at least what the standard certificate does.
        assert!(cell("cs_robustness@0.25") >= cell("cs_robustness_standard@0.25"));
        assert!(cell("base_accuracy") > 0.8, "certify records the base model's class on the clean input");
    }

    // Markdown: brackets, the best in bold, overlapping intervals marked.
    let run = csrs(dir.path(), &["analyze", "--radii", "0.25", "a.tsv", "b.tsv"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("**") && run.stdout.contains("° ["), "{}", run.stdout);
    assert!(run.stdout.contains("95% Clopper–Pearson intervals"), "{}", run.stdout);
}

/// The elements `name` of an SVG document whose attribute `attribute` is
/// `value`.
fn count_elements(svg: &roxmltree::Document<'_>, name: &str, attribute: &str, value: &str) -> usize {
    svg.descendants().filter(|n| n.has_tag_name(name) && n.attribute(attribute) == Some(value)).count()
}

#[test]
fn figures_draw_one_curve_per_run_and_panel() {
    let dir = tempfile::tempdir().unwrap();
    certify_at(dir.path(), "a.tsv", "0.25", "gaussian");
    certify_at(dir.path(), "b.tsv", "0.5", "sound");
    let run = csrs(dir.path(), &["analyze", "a.tsv", "b.tsv", "--plot", "f.svg"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("| records |"), "the table is still printed: {}", run.stdout);
    let text = std::fs::read_to_string(dir.path().join("f.svg")).unwrap();
    let svg = roxmltree::Document::parse(&text).expect("the figure is well-formed SVG");
    assert_eq!(svg.root_element().tag_name().name(), "svg");
    // Each run's colour: its curve in the accuracy, robustness and gain
    // panels, the standard certificate's thin curve, its legend line; and a
    // band in the first two panels.
    for colour in ["#1F77B4", "#FF7F0E"] {
        assert_eq!(count_elements(&svg, "polyline", "stroke", colour), 5, "{colour}");
        assert_eq!(count_elements(&svg, "polygon", "fill", colour), 2, "{colour}");
    }
    let texts: Vec<String> = svg.descendants().filter_map(|n| n.text()).map(|t| t.trim().to_owned()).collect();
    for label in ["gaussian, σ = 0.25, digits-seed-3", "gaussian, σ = 0.5 sound, digits-seed-3"] {
        assert!(texts.iter().any(|t| t == label), "no legend {label}: {texts:?}");
    }

    // Labels given by hand, and a PNG.
    let args = ["analyze", "a.tsv", "b.tsv", "--label", "low noise", "--label", "high noise", "--plot", "f.png"];
    let run = csrs(dir.path(), &args, "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(std::fs::read(dir.path().join("f.png")).unwrap().starts_with(b"\x89PNG\r\n"));
    assert!(run.stdout.starts_with("| label |") && run.stdout.contains("| low noise |"), "{}", run.stdout);
}

#[test]
fn several_harm_levels_add_the_certified_cost_panel() {
    let dir = tempfile::tempdir().unwrap();
    // Reading a 3 as an 8 costs 5, as any other digit 1.
    let mut rows = vec![vec![0.0; 10]; 10];
    rows[3] = vec![1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 5.0, 1.0];
    let rows: Vec<String> = rows.iter().map(|row| format!("{row:?}")).collect();
    let cost = format!("kind = \"matrix\"\nrows = [{}]\n", rows.join(", "));
    std::fs::write(dir.path().join("levels.toml"), cost).unwrap();
    let model = repo_root().join("models/digits-gaussian-025").display().to_string();
    let args = ["certify", "--model", &model, "--dataset", "digits", "--cost", "levels.toml", "--sigma", "0.25"];
    let run = csrs(dir.path(), &[&args[..], &["--n", "500", "--max", "40", "--out", "l.tsv"]].concat(), "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run = csrs(dir.path(), &["analyze", "--format", "tsv", "--radii", "0.3", "l.tsv", "--plot", "l.svg"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("l.svg")).unwrap();
    let svg = roxmltree::Document::parse(&text).unwrap();
    // One more curve than with one level: the mean certified cost.
    assert_eq!(count_elements(&svg, "polyline", "stroke", "#1F77B4"), 6);
    assert!(svg.descendants().any(|n| n.text().is_some_and(|t| t.trim() == "Certified cost")));
    let mut lines = run.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let row: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let cost: f64 = row[header.iter().position(|h| *h == "certified_cost@0.3").unwrap()].parse().unwrap();
    assert!((0.0..=5.0).contains(&cost), "a mean of levels 0, 1 and 5: {cost}");
}

#[test]
fn figure_mistakes_are_named_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    certify(dir.path(), "a.tsv");
    for (args, message) in [
        (vec!["--plot", "f.pdf"], "--plot f.pdf: expected a file name ending in .svg or .png"),
        (vec!["--label", "x", "--label", "y"], "--label: given 2 times, expected once per records file (1)"),
        (vec!["--plot", "a.tsv/f.svg"], "cannot write a.tsv/f.svg"),
    ] {
        let run = csrs(dir.path(), &[&["analyze", "a.tsv"][..], &args].concat(), "");
        assert_eq!(run.code, Some(2), "{args:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    assert!(!dir.path().join("f.pdf").exists());
}

#[test]
fn records_of_an_earlier_csrs_are_read_but_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let summary = certify(dir.path(), "c.tsv");
    assert!(summary.contains("; base model's accuracy on clean inputs: "), "{summary}");
    // The same records without the column csrs added later.
    let text = std::fs::read_to_string(dir.path().join("c.tsv")).unwrap();
    std::fs::write(dir.path().join("old.tsv"), without_column(&text, "base_predicted")).unwrap();
    // Without an end mark, as an earlier csrs wrote them: read when asked.
    let refused = csrs(dir.path(), &["analyze", "old.tsv"], "");
    assert!(refused.stderr.contains("old.tsv has no end mark"), "{}", refused.stderr);
    let run = csrs(dir.path(), &["analyze", "--partial", "--format", "jsonl", "old.tsv", "c.tsv"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let rows: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows[0]["base_accuracy"], serde_json::Value::Null);
    assert!(rows[1]["base_accuracy"].as_f64().unwrap() > 0.8);
    for key in ["clean_accuracy", "cs_robustness@0.5", "acr"] {
        assert_eq!(rows[0][key], rows[1][key], "{key}");
    }

    let model = repo_root().join("models/digits-gaussian-025").display().to_string();
    let args = ["certify", "--model", &model, "--dataset", "digits", "--sigma", "0.25", "--n", "500"];
    let run = csrs(dir.path(), &[&args[..], &["--max", "50", "--out", "old.tsv", "--resume"]].concat(), "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("old.tsv: its columns are not those of this version of csrs"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn records_without_the_decided_column_say_nothing_of_draws_run_out() {
    let dir = tempfile::tempdir().unwrap();
    let summary = certify_with(dir.path(), "t.tsv", &["--sigma", "0.25", "--n", "800", "--target-radius", "0.3"]);
    assert!(summary.contains("inputs ran out of draws before their answer"), "{summary}");
    // The same records, and settings, as a csrs from before the column
    // wrote them: read, each input's decision unknown.
    let text = std::fs::read_to_string(dir.path().join("t.tsv")).unwrap();
    std::fs::write(dir.path().join("old.tsv"), without_column(&text, "decided")).unwrap();
    std::fs::copy(dir.path().join("t.tsv.config.toml"), dir.path().join("old.tsv.config.toml")).unwrap();
    let run =
        csrs(dir.path(), &["analyze", "--partial", "--format", "jsonl", "--radii", "0.3", "old.tsv", "t.tsv"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let rows: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows[0]["out_of_draws"], serde_json::Value::Null, "{}", run.stdout);
    assert!(rows[1]["out_of_draws"].as_u64().is_some(), "{}", run.stdout);
    for key in ["examples", "certified_accuracy@0.3", "mean_draws", "target_radius"] {
        assert_eq!(rows[0][key], rows[1][key], "{key}");
    }
    let markdown = csrs(dir.path(), &["analyze", "--partial", "old.tsv"], "");
    assert_eq!(markdown.code, Some(0), "{}", markdown.stderr);
    assert!(markdown.stdout.contains("≥: a lower bound") && !markdown.stdout.contains("out_of_draws"));
}

#[test]
fn a_file_being_written_is_read_but_not_changed() {
    let dir = tempfile::tempdir().unwrap();
    certify(dir.path(), "c.jsonl");
    let path = dir.path().join("c.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"index\": 80, \"lab");
    std::fs::write(&path, &text).unwrap();
    // A run still going has no end mark yet.
    std::fs::remove_file(dir.path().join("c.jsonl.end")).unwrap();
    let run = csrs(dir.path(), &["analyze", "--partial", "--format", "tsv", "c.jsonl"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("reading its 40 complete records"), "{}", run.stderr);
    let row: Vec<&str> = run.stdout.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!((row[0], row[2]), ("c.jsonl", "40"), "records and examples: {}", run.stdout);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn bad_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.tsv"), "").unwrap();
    std::fs::write(dir.path().join("empty.tsv.end"), "{\"records\": 0, \"bytes\": 0}").unwrap();
    std::fs::write(dir.path().join("other.tsv"), "a\tb\n1\t2\n").unwrap();
    for (args, message) in [
        (vec!["missing.tsv"], "cannot read missing.tsv"),
        (vec!["empty.tsv"], "empty.tsv: no certified examples"),
        (vec!["other.tsv"], "other.tsv: line 1 is not the header of these records"),
        (vec!["--radii", "0,-1", "empty.tsv"], "--radii: -1 is not a radius"),
        (vec!["notes.txt"], "notes.txt: unknown output format"),
    ] {
        let run = csrs(dir.path(), &[&["analyze"][..], &args].concat(), "");
        assert_eq!(run.code, Some(2), "{args:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

#[test]
fn unfinished_records_are_refused_before_they_are_parsed() {
    let dir = tempfile::tempdir().unwrap();
    certify(dir.path(), "c.tsv");
    let header = std::fs::read_to_string(dir.path().join("c.tsv")).unwrap().lines().next().unwrap().to_owned();
    // 4 MB of lines that are not records, without an end mark: a run
    // stopped (or still going) is refused as such, whatever its lines.
    let body = "not a record\t".repeat(16) + "\n";
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.path().join("big.tsv")).unwrap());
    std::io::Write::write_all(&mut file, format!("{header}\n").as_bytes()).unwrap();
    for _ in 0..(4 << 20) / body.len() {
        std::io::Write::write_all(&mut file, body.as_bytes()).unwrap();
    }
    drop(file);
    let run = csrs(dir.path(), &["analyze", "big.tsv"], "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("big.tsv has no end mark: its run has not finished"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    // What parsing them would have said.
    let parsed = csrs(dir.path(), &["analyze", "--partial", "big.tsv"], "");
    assert_eq!(parsed.code, Some(2));
    assert!(parsed.stderr.contains("big.tsv:2: "), "{}", parsed.stderr);
    // Marked records of another length are refused by their length.
    std::fs::write(dir.path().join("big.tsv.end"), "{\"records\": 40, \"bytes\": 9000}").unwrap();
    let run = csrs(dir.path(), &["analyze", "big.tsv"], "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("says 40 records in 9000 bytes: it was cut short"), "{}", run.stderr);
}

#[test]
fn hand_edited_records_are_refused_naming_the_line() {
    // The edited files have no end mark: read with --partial, as a run's
    // records still being written are.
    let dir = tempfile::tempdir().unwrap();
    certify(dir.path(), "c.jsonl");
    let text = std::fs::read_to_string(dir.path().join("c.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let sensitive = lines.iter().position(|l| l.contains("\"certified_cost\":[")).expect("a three among 40 digits");
    for (curve, message) in [
        ("[[0.0,0.7],[1.0,0.9]]", "the radius at level 1 is finite, expected an infinite radius at the top level only"),
        ("[[0.0,0.7]]", "the radius at level 0 is finite"),
        ("[[1.0,\"inf\"],[0.0,0.7]]", "level 1 at position 0, expected 0 first"),
        ("[[0.0,0.7],[0.0,\"inf\"]]", "level 0 at position 1, expected a finite number above the level before it"),
        ("[]", "certified_cost: it has no levels"),
    ] {
        let mut record: serde_json::Value = serde_json::from_str(lines[sensitive]).unwrap();
        record["certified_cost"] = serde_json::from_str(curve).unwrap();
        let mut edited = lines.clone();
        let replaced = record.to_string();
        edited[sensitive] = &replaced;
        std::fs::write(dir.path().join("e.jsonl"), edited.join("\n") + "\n").unwrap();
        let run = csrs(dir.path(), &["analyze", "--partial", "e.jsonl"], "");
        assert_eq!(run.code, Some(2), "{curve}: {}", run.stdout);
        let place = format!("e.jsonl:{}: certified_cost: ", sensitive + 1);
        assert!(run.stderr.contains(&place) && run.stderr.contains(message), "{curve}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }

    // A class the dataset does not have: known from the run's settings,
    // which the records keep beside them.
    let mut record: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    record["predicted"] = 99.into();
    let mut edited = lines.clone();
    let replaced = record.to_string();
    edited[2] = &replaced;
    std::fs::write(dir.path().join("k.jsonl"), edited.join("\n") + "\n").unwrap();
    std::fs::copy(dir.path().join("c.jsonl.config.toml"), dir.path().join("k.jsonl.config.toml")).unwrap();
    let run = csrs(dir.path(), &["analyze", "--partial", "k.jsonl"], "");
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    let message = "k.jsonl:3: predicted: class 99, expected one of the dataset's 10 classes (0 to 9)";
    assert!(run.stderr.contains(message), "{}", run.stderr);

    // The same example twice: both lines named.
    let twice = format!("{text}{}\n", lines[3]);
    std::fs::write(dir.path().join("twice.jsonl"), twice).unwrap();
    let run = csrs(dir.path(), &["analyze", "--partial", "twice.jsonl"], "");
    assert_eq!(run.code, Some(2));
    let index = serde_json::from_str::<serde_json::Value>(lines[3]).unwrap()["index"].clone();
    let message = format!("twice.jsonl: line {} repeats example {index} of line 4", lines.len() + 1);
    assert!(run.stderr.contains(&message), "{}", run.stderr);
}

/// The two-sided binomial test at ½ summed term by term: P(X ≤ min(k, n − k))
/// twice, at most 1.
fn mcnemar(only_a: u64, only_b: u64) -> f64 {
    let n = only_a + only_b;
    let tail = only_a.min(only_b);
    let mut term = 0.5f64.powi(n as i32);
    let mut sum = 0.0;
    for i in 0..=tail {
        sum += term;
        term *= (n - i) as f64 / (i + 1) as f64;
    }
    (2.0 * sum).min(1.0)
}

#[test]
fn compare_pairs_two_runs_per_metric_and_radius() {
    let dir = tempfile::tempdir().unwrap();
    certify_at(dir.path(), "a.tsv", "0.25", "gaussian");
    certify_at(dir.path(), "b.tsv", "0.5", "gaussian");
    let radii = ["--radii", "0,0.5"];
    let run = csrs(
        dir.path(),
        &[&["analyze", "--compare", "--format", "jsonl"][..], &radii, &["a.tsv", "b.tsv"]].concat(),
        "",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let table = csrs(dir.path(), &[&["analyze", "--format", "jsonl"][..], &radii, &["a.tsv", "b.tsv"]].concat(), "");
    let fractions: Vec<serde_json::Value> = table.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let lines: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Certified accuracy, Certify-CS and the standard certificate's CS
    // robustness, at two radii.
    assert_eq!(lines.len(), 3 * 2, "{}", run.stdout);
    for line in &lines {
        let (metric, radius) = (line["metric"].as_str().unwrap(), line["radius"].as_f64().unwrap());
        let (only_a, only_b) = (line["only_baseline"].as_u64().unwrap(), line["only_run"].as_u64().unwrap());
        let p = line["p_value"].as_f64().unwrap();
        assert!((p - mcnemar(only_a, only_b)).abs() <= 1e-12 * p.max(1e-300), "{line}");
        let examples = line["examples"].as_f64().unwrap();
        for (side, table) in [("baseline_hits", &fractions[0]), ("run_hits", &fractions[1])] {
            let fraction = table[format!("{metric}@{radius}")].as_f64().unwrap();
            assert!((line[side].as_f64().unwrap() / examples - fraction).abs() < 1e-9, "{side} of {line}");
        }
    }
    let markdown = csrs(dir.path(), &["analyze", "--compare", "a.tsv", "b.tsv"], "");
    assert!(markdown.stdout.starts_with("| baseline | run | metric | radius |"), "{}", markdown.stdout);
    let one = csrs(dir.path(), &["analyze", "--compare", "a.tsv"], "");
    assert_eq!(one.code, Some(2));
    assert!(one.stderr.contains("--compare needs two records files or more"), "{}", one.stderr);
}
