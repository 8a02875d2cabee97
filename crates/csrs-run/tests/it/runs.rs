//! A run stopped part way and resumed makes the records of one run, and
//! refuses to continue with other settings, changing nothing.

use std::path::Path;

use csrs_artifacts::CertificationFiles;
use csrs_data::{Dataset, ImageShape};
use csrs_records::{CertifyRow, Decision, Row, RunIdentity, Settings, Unfinished, read_rows};
use csrs_run::{Certify, DrawCount, RunSettings, certify};
use csrs_sampling::{KnownProbabilities, Noise, Smoothed, StopRule};
use csrs_stats::{Alpha, Sigma};

/// Ten 1×1×2 images of three classes; the first pixel says how sure the
/// smoothed classifier is of the label (the second is the label).
fn dataset() -> Dataset {
    let labels: Vec<usize> = (0..10).map(|i| i % 3).collect();
    let pixels = labels.iter().enumerate().flat_map(|(i, &label)| [i as f32 / 10.0, label as f32]).collect();
    let shape = ImageShape { channels: 1, height: 1, width: 2 };
    Dataset::in_memory("known", shape, pixels, labels, vec!["a".into(), "b".into(), "c".into()])
}

fn smoothed() -> Smoothed<KnownProbabilities<impl Fn(&[f32]) -> Vec<f64>>> {
    with_probabilities(|x: &[f32]| {
        let sure = 0.5 + 0.49 * f64::from(x[0]);
        let mut p = vec![(1.0 - sure) / 2.0; 3];
        p[x[1] as usize] = sure;
        p
    })
}

/// The smoothed classifier of three classes whose probabilities at `x` are
/// `probabilities(x)`.
fn with_probabilities<F: Fn(&[f32]) -> Vec<f64>>(probabilities: F) -> Smoothed<KnownProbabilities<F>> {
    Smoothed::new(KnownProbabilities::new(3, 2, probabilities), Noise::Gaussian(Sigma::new(0.5).unwrap()))
}

/// `n` draws per input.
fn draws(n: u64) -> DrawCount {
    DrawCount::new(n).unwrap()
}

/// A run's identity: its noise level and draws.
fn identity(sigma: f64, n: u64) -> RunIdentity {
    RunIdentity { sigma: Some(sigma), n: Some(n), ..RunIdentity::default() }
}

fn values(rows: &[CertifyRow]) -> Vec<(usize, Option<u64>, String)> {
    rows.iter().map(|row| (row.index(), row.draws(), format!("{:?}", row.certificate()))).collect()
}

#[test]
fn a_resumed_run_makes_the_records_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let alpha = Alpha::new(0.001).unwrap();
    let settings = Settings::for_identity(&identity(0.5, 2000)).unwrap();
    let plain = Certify { n0: draws(100), cost: None, rule: None };
    for (name, how) in
        [("fixed.tsv", plain), ("rounds.jsonl", Certify { rule: Some(StopRule::AtRadius(0.5)), ..plain })]
    {
        let whole = RunSettings { batch: 300, ..RunSettings::new(dir.path().join(name), alpha, draws(2000)) };
        let rows = certify(&whole, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap();
        assert_eq!(rows.len(), 10);

        let out = dir.path().join(format!("parts-{name}"));
        let first = RunSettings { max: Some(4), ..RunSettings { out: out.clone(), ..whole.clone() } };
        assert_eq!(certify(&first, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap().len(), 4);
        let again = certify(&first, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap_err();
        assert!(format!("{again:#}").contains("pass resume = true"), "{again:#}");
        // Another batch changes no count.
        let rest = RunSettings { resume: true, max: None, batch: 700, ..first.clone() };
        let resumed = certify(&rest, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap();
        assert_eq!(values(&resumed), values(&rows));
        assert_eq!(values(&read_rows::<CertifyRow>(&out, Unfinished::Refuse).unwrap()), values(&rows));

        let other = Settings::for_identity(&identity(0.25, 2000)).unwrap();
        let refused = certify(&rest, &other, &mut smoothed(), &dataset(), how, &mut ()).unwrap_err();
        assert!(format!("{refused:#}").contains("the records were made with sigma 0.5"), "{refused:#}");

        // Inputs drawn in rounds say how their rounds ended; a fixed n has
        // nothing to decide.
        let decisions: Vec<Option<Decision>> = rows.iter().map(CertifyRow::decision).collect();
        match how.rule {
            None => assert!(decisions.iter().all(Option::is_none), "{decisions:?}"),
            Some(_) => assert!(decisions.iter().all(Option::is_some), "{decisions:?}"),
        }
    }
}

/// The records at `path`, their settings and their end mark
/// (`None` where absent).
fn files_of(path: &Path) -> Vec<Option<String>> {
    CertificationFiles::new(path).outputs().iter().map(|file| std::fs::read_to_string(file).ok()).collect()
}

#[test]
fn a_refused_resume_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let alpha = Alpha::new(0.001).unwrap();
    let settings = Settings::for_identity(&identity(0.5, 2000)).unwrap();
    let how = Certify { n0: draws(100), cost: None, rule: None };
    let out = dir.path().join("r.tsv");
    let first = RunSettings { max: Some(4), ..RunSettings::new(out.clone(), alpha, draws(2000)) };
    certify(&first, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap();
    let rest = RunSettings { resume: true, max: None, ..first };
    let other = Settings::for_identity(&identity(0.25, 2000)).unwrap();
    let refuse = |settings: &Settings, message: &str| {
        let before = files_of(&out);
        let err = certify(&rest, settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap_err();
        assert!(format!("{err:#}").contains(message), "{err:#}");
        assert_eq!(files_of(&out), before, "{message}");
    };
    // Finished records, and records of a run killed while writing a line.
    refuse(&other, "the records were made with sigma 0.5");
    std::fs::remove_file(CertificationFiles::new(&out).end_mark()).unwrap();
    let mut text = std::fs::read(&out).unwrap();
    text.extend_from_slice(b"4\t1\t");
    std::fs::write(&out, &text).unwrap();
    refuse(&other, "the records were made with sigma 0.5");
    std::fs::remove_file(CertificationFiles::new(&out).resolved_config()).unwrap();
    refuse(&settings, "r.tsv.config.toml, so nothing says its records were made");
    // Adopting the settings continues them: the partial line goes.
    let adopt = RunSettings { adopt_settings: true, ..rest.clone() };
    let rows = certify(&adopt, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(read_rows::<CertifyRow>(&out, Unfinished::Refuse).unwrap(), rows);
}

/// Settings with the batch, which a resumed run may change.
#[derive(serde::Serialize)]
struct Batched {
    sigma: f64,
    n: u64,
    batch: usize,
}

#[test]
fn a_resume_that_fails_before_its_first_record_keeps_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let alpha = Alpha::new(0.001).unwrap();
    let how = Certify { n0: draws(100), cost: None, rule: None };
    let out = dir.path().join("r.tsv");
    let first = RunSettings { max: Some(4), batch: 300, ..RunSettings::new(out.clone(), alpha, draws(2000)) };
    let settings = |batch| Settings::new(&identity(0.5, 2000), &Batched { sigma: 0.5, n: 2000, batch }).unwrap();
    certify(&first, &settings(300), &mut smoothed(), &dataset(), how, &mut ()).unwrap();
    // Another batch continues the run; a model that then fails on the
    // first input leaves the records, and the settings that made them.
    let rest = RunSettings { resume: true, max: None, batch: 700, ..first };
    let before = files_of(&out);
    let mut failing = with_probabilities(|_: &[f32]| vec![0.5; 3]);
    let err = certify(&rest, &settings(700), &mut failing, &dataset(), how, &mut ()).unwrap_err();
    assert!(format!("{err:#}").contains("example 4"), "{err:#}");
    assert_eq!(files_of(&out), before);
    // The run that writes a record saves its settings.
    certify(&rest, &settings(700), &mut smoothed(), &dataset(), how, &mut ()).unwrap();
    let saved = Settings::of_run(&out).unwrap().unwrap();
    assert_eq!(saved.get("batch").map(ToString::to_string).as_deref(), Some("700"));
}

#[test]
fn a_new_run_that_fails_before_its_first_record_can_be_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let alpha = Alpha::new(0.001).unwrap();
    let how = Certify { n0: draws(100), cost: None, rule: None };
    let out = dir.path().join("r.tsv");
    let first = RunSettings { max: Some(4), batch: 300, ..RunSettings::new(out.clone(), alpha, draws(2000)) };
    let settings = Settings::new(&identity(0.5, 2000), &Batched { sigma: 0.5, n: 2000, batch: 300 }).unwrap();
    let mut failing = with_probabilities(|_: &[f32]| vec![0.5; 3]);
    certify(&first, &settings, &mut failing, &dataset(), how, &mut ()).unwrap_err();
    // Its settings were saved with the file it made, so it resumes.
    let saved = Settings::of_run(&out).unwrap().unwrap();
    assert_eq!(saved.first_difference(&settings), None);
    let resume = RunSettings { resume: true, ..first };
    let rows = certify(&resume, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap();
    assert_eq!(rows.len(), 4);
}
