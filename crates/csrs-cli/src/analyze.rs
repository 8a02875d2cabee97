//! `csrs analyze`: metrics tables and figures from certification records
//! (SPEC §8).

use std::path::{Path, PathBuf};

use anyhow::bail;
use csrs_artifacts::{CertificationFiles, Existing, Setting, check_output};
use csrs_models::{CheckpointMeta, DenoiserMeta};
use csrs_records::Unfinished;
use csrs_report::{FigureFormat, Run, TableFormat, check_radii, comparison_table, draw, table};
use csrs_sampling::NoiseKind;

use crate::flags::Flags;
use crate::options::Options;

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
/// end) are refused unless --partial, before their lines are read.
///
/// A --target-radius run stops each input once its answer at that radius
/// is known: its metrics are exact there only, and lower bounds elsewhere,
/// marked ≥ in markdown and left out of TSV and JSON (and of --compare);
/// the table counts its inputs that ran out of draws (out_of_draws).
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
    #[arg(long, value_name = "markdown|tsv|jsonl", default_value = "markdown")]
    format: TableFormat,
    /// Instead of the metrics table, compare each records file with the first on the examples they share: per metric and radius, the examples right by one run only and McNemar's exact p-value (the binomial test at 1/2 on those examples), which resolves differences that overlapping intervals hide
    #[arg(long)]
    compare: bool,
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

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        check_radii(&self.radii)?;
        if !self.label.is_empty() && self.label.len() != self.records.len() {
            bail!("--label: given {} times, expected once per records file ({})", self.label.len(), self.records.len());
        }
        let plot = self
            .plot
            .as_deref()
            .map(|path| FigureFormat::of(path, Setting::Plot).map(|format| (path, format)))
            .transpose()?;
        if let Some((path, _)) = plot {
            let inputs: Vec<PathBuf> =
                self.records.iter().flat_map(|records| CertificationFiles::new(records).outputs()).collect();
            check_output(path, &inputs, Existing::from_force(self.force))?;
        }
        let unfinished = if self.partial { Unfinished::Read } else { Unfinished::Refuse };
        let runs = self
            .records
            .iter()
            .enumerate()
            .map(|(index, path)| {
                let label = self.label.get(index).cloned().unwrap_or_else(|| label_of(path));
                Run::read(path, label, unfinished)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let text = if self.compare {
            comparison_table(&runs, &self.radii, self.format, &Flags)?
        } else {
            table(&runs, &self.radii, self.format, !self.label.is_empty(), &Flags)?
        };
        if let Some((path, format)) = plot {
            draw(path, format, &runs)?;
        }
        print!("{text}");
        Ok(())
    }
}

/// A run's name from its settings: the model (its training method, for a
/// csrs checkpoint that has one, and its denoiser's likewise), σ (with "sound" for sound noise) and the
/// cost matrix; the file's name when the settings are not beside it.
fn label_of(records: &Path) -> String {
    let stem = |path: &Path| path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let config = CertificationFiles::new(records).resolved_config();
    let read = config.exists().then(|| Options { config: Some(config), ..Options::default() }.with_config_file());
    let Some(Ok(options)) = read else { return stem(records) };
    let model = options.model.as_deref().map_or_else(
        || stem(records),
        |model| match CheckpointMeta::read(model).ok().and_then(|meta| meta.training) {
            Some(training) => training.method,
            None => stem(model),
        },
    );
    // Denoised smoothing: the denoiser by its objective, as the model.
    let model = match options.denoiser.as_deref() {
        Some(denoiser) => {
            let name = match DenoiserMeta::read(denoiser).ok().and_then(|meta| meta.training) {
                Some(training) => training.method,
                None => stem(denoiser),
            };
            format!("{model} denoised by {name}")
        }
        None => model,
    };
    let mut parts = vec![model];
    let sound = if options.noise == Some(NoiseKind::Sound) { " sound" } else { "" };
    parts.extend(options.sigma.map(|sigma| format!("σ = {sigma}{sound}")));
    parts.push(options.cost.as_deref().map_or_else(|| "standard".to_owned(), stem));
    parts.join(", ")
}
