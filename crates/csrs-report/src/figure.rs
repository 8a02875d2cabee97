//! The metrics of several runs against the radius, as one figure (SVG or
//! PNG): `csrs analyze --plot`.
//!
//! Every curve is the exact step function of the per-example radii
//! ([`Fraction::curve`]), not a line through a few chosen radii, and every
//! fraction carries its 95% Clopper–Pearson band over the test examples.

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, anyhow};
use csrs_artifacts::{Setting, Spelling, Worded};
use csrs_stats::Alpha;
use csrs_stats::metrics::{CertifiedExample, Fraction, Piece, Proportion, breakpoints, certified_cost_curve};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The figure's file format, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// The format of `path`, given as `setting`, or an error naming the
    /// extensions accepted.
    ///
    /// # Errors
    /// Any other extension.
    pub fn of(path: &Path, setting: Setting) -> anyhow::Result<Format> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => {
                let path = path.display().to_string();
                let text = move |s: &dyn Spelling| {
                    format!("{}: expected a file name ending in .svg or .png", s.given(setting, &path))
                };
                Err(Worded::new(text).into())
            }
        }
    }
}

/// One run on the figure: its name in the legend and its examples.
struct Run<'a> {
    label: String,
    examples: &'a [CertifiedExample],
}

/// A run's name in the legend; a `--target-radius` run's curves are lower
/// bounds but at its target radius, and the legend says so.
fn legend(run: &crate::Run) -> String {
    match run.target_radius {
        Some(radius) => format!("{} (lower bounds but at radius {radius})", run.label),
        None => run.label.clone(),
    }
}

/// Draws `runs` into `path`, written only once the whole figure is made,
/// and then whole or not at all.
///
/// # Errors
/// What drawing, encoding and writing say.
pub fn draw(path: &Path, format: Format, runs: &[crate::Run]) -> anyhow::Result<()> {
    let examples: Vec<Vec<CertifiedExample>> = runs.iter().map(crate::Run::examples).collect();
    let runs: Vec<Run<'_>> =
        runs.iter().zip(&examples).map(|(run, examples)| Run { label: legend(run), examples }).collect();
    let runs = runs.as_slice();
    register_font();
    let panels = panels(runs);
    let columns = panels.len().min(2);
    let rows = panels.len().div_ceil(2);
    let size = (PANEL_SIZE.0 * columns as u32, PANEL_SIZE.1 * rows as u32);
    let x_max = x_max(runs);
    let bytes = match format {
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                draw_panels(&root, rows, columns, &panels, runs, x_max)?;
            }
            svg.into_bytes()
        }
        Format::Png => {
            let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
                draw_panels(&root, rows, columns, &panels, runs, x_max)?;
            }
            let image = image::RgbImage::from_raw(size.0, size.1, pixels).expect("the buffer has the figure's size");
            let mut png = std::io::Cursor::new(Vec::new());
            image.write_to(&mut png, image::ImageFormat::Png).context("cannot encode the figure as PNG")?;
            png.into_inner()
        }
    };
    csrs_artifacts::write_atomically(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The size of one panel, in pixels.
const PANEL_SIZE: (u32, u32) = (640, 440);

/// Tableau's ten colours: distinct for most forms of colour blindness.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// The colour of the `index`-th run.
fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// The confidence of every band.
const BAND_ALPHA: f64 = 0.05;

/// What one panel shows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Panel {
    /// A fraction of the examples, one curve and band per run.
    Fraction(Fraction),
    /// Certify-CS's robustness (thick) against the standard certificate's
    /// (thin) for each run: what the cost-sensitive certificate adds.
    Gain,
    /// The mean certified cost over the sensitive examples, for cost
    /// matrices with more than one harm level.
    CertifiedCost { top: f64 },
}

/// The panels `runs` call for: certified accuracy always; the cost-sensitive
/// ones when some run has sensitive examples; the certified cost when some
/// cost matrix has several levels (with one level it is 1 − robustness).
fn panels(runs: &[Run<'_>]) -> Vec<Panel> {
    let mut panels = vec![Panel::Fraction(Fraction::CertifiedAccuracy)];
    let curves = || runs.iter().flat_map(|run| run.examples).filter_map(|e| e.certificate.cost_sensitive.as_ref());
    if curves().next().is_some() {
        panels.extend([Panel::Fraction(Fraction::CostSensitiveRobustness), Panel::Gain]);
    }
    if curves().any(|cs| cs.levels().len() > 2) {
        let top = curves().map(|cs| cs.levels().last().expect("a curve has levels").level).fold(0.0, f64::max);
        panels.push(Panel::CertifiedCost { top });
    }
    panels
}

/// The radius axis ends a little after the largest finite radius.
fn x_max(runs: &[Run<'_>]) -> f64 {
    let largest = runs.iter().filter_map(|run| breakpoints(run.examples).last().copied()).fold(0.0, f64::max);
    if largest > 0.0 { largest * 1.05 } else { 1.0 }
}

fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: usize,
    columns: usize,
    panels: &[Panel],
    runs: &[Run<'_>],
    x_max: f64,
) -> anyhow::Result<()> {
    root.fill(&WHITE).map_err(plot_error)?;
    for (area, &panel) in root.split_evenly((rows, columns)).iter().zip(panels) {
        draw_panel(area, panel, runs, x_max)?;
    }
    root.present().map_err(plot_error)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: Panel,
    runs: &[Run<'_>],
    x_max: f64,
) -> anyhow::Result<()> {
    let (title, y_label, y_max) = match panel {
        Panel::Fraction(Fraction::CertifiedAccuracy) => ("Certified accuracy", "fraction of all examples", 1.0),
        Panel::Fraction(_) => ("Certified cost-sensitive robustness", "fraction of sensitive examples", 1.0),
        Panel::Gain => ("Certify-CS (thick) vs standard certificate (thin)", "fraction of sensitive examples", 1.0),
        Panel::CertifiedCost { top } => ("Certified cost", "mean over sensitive examples", top * 1.05),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .max_light_lines(1)
        .x_desc("L2 radius ε")
        .y_desc(y_label)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(plot_error)?;
    for (index, run) in runs.iter().enumerate() {
        let colour = colour(index);
        let line = match panel {
            Panel::Fraction(fraction) => {
                let Some(pieces) = fraction.curve(run.examples) else { continue };
                let band = band(&pieces, x_max);
                chart.draw_series([Polygon::new(band, colour.mix(0.18).filled())]).map_err(plot_error)?;
                steps(&pieces, x_max, |p| p.value())
            }
            Panel::Gain => {
                let Some(standard) = Fraction::StandardCostSensitiveRobustness.curve(run.examples) else { continue };
                let thin = steps(&standard, x_max, |p| p.value());
                chart.draw_series(LineSeries::new(thin, colour.stroke_width(1))).map_err(plot_error)?;
                let cs = Fraction::CostSensitiveRobustness.curve(run.examples).expect("the run has sensitive examples");
                steps(&cs, x_max, |p| p.value())
            }
            Panel::CertifiedCost { .. } => {
                let Some(pieces) = certified_cost_curve(run.examples) else { continue };
                steps(&pieces, x_max, |cost| *cost)
            }
        };
        let series = chart.draw_series(LineSeries::new(line, colour.stroke_width(2))).map_err(plot_error)?;
        if matches!(panel, Panel::Fraction(Fraction::CertifiedAccuracy)) {
            series
                .label(&run.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        }
    }
    if matches!(panel, Panel::Fraction(Fraction::CertifiedAccuracy)) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(plot_error)?;
    }
    Ok(())
}

/// The points of a step function: each piece's value from its start to its
/// end (cut at `x_max`); consecutive pieces join with a vertical drop.
fn steps<T>(pieces: &[Piece<T>], x_max: f64, value: impl Fn(&T) -> f64) -> Vec<(f64, f64)> {
    pieces
        .iter()
        .filter(|piece| piece.from < x_max)
        .flat_map(|piece| {
            let y = value(&piece.value);
            [(piece.from, y), (piece.to.min(x_max), y)]
        })
        .collect()
}

/// The 95% band of a fraction: along the upper ends, back along the lower.
fn band(pieces: &[Piece<Proportion>], x_max: f64) -> Vec<(f64, f64)> {
    let alpha = Alpha::new(BAND_ALPHA).expect("a valid level");
    // Each interval once: both edges come from it.
    let intervals: Vec<Piece<(f64, f64)>> = pieces
        .iter()
        .map(|p| Piece {
            from: p.from,
            to: p.to,
            value: p.value.interval(alpha).expect("fractions of at least one example"),
        })
        .collect();
    let mut points = steps(&intervals, x_max, |(_, high)| *high);
    let mut lower = steps(&intervals, x_max, |(low, _)| *low);
    lower.reverse();
    points.extend(lower);
    points
}

fn plot_error(err: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot draw the figure: {err}")
}

/// Text is drawn with DejaVu Sans, embedded, so that figures look the same
/// on every machine and need no system font.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_err() {
            unreachable!("DejaVu Sans is a valid font");
        }
    });
}
