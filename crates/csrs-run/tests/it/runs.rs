//! A run stopped part way and resumed makes the records of one run, and
//! refuses to continue with other settings.

use csrs_data::{Dataset, ImageShape};
use csrs_records::{CertifyRow, Row, Settings, Unfinished, read_rows};
use csrs_run::{Certify, RunSettings, certify};
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
    let counter = KnownProbabilities::new(3, 2, |x: &[f32]| {
        let sure = 0.5 + 0.49 * f64::from(x[0]);
        let mut p = vec![(1.0 - sure) / 2.0; 3];
        p[x[1] as usize] = sure;
        p
    });
    Smoothed::new(counter, Noise::Gaussian(Sigma::new(0.5).unwrap()))
}

#[derive(serde::Serialize)]
struct Options {
    sigma: f64,
    n: u64,
}

fn values(rows: &[CertifyRow]) -> Vec<(usize, Option<u64>, String)> {
    rows.iter().map(|row| (row.index(), row.draws(), format!("{:?}", row.certificate()))).collect()
}

#[test]
fn a_resumed_run_makes_the_records_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let alpha = Alpha::new(0.001).unwrap();
    let settings = Settings::new(&Options { sigma: 0.5, n: 2000 }).unwrap();
    let plain = Certify { n0: 100, cost: None, rule: None };
    for (name, how) in
        [("fixed.tsv", plain), ("rounds.jsonl", Certify { rule: Some(StopRule::AtRadius(0.5)), ..plain })]
    {
        let whole = RunSettings { batch: 300, ..RunSettings::new(dir.path().join(name), alpha, 2000) };
        let rows = certify(&whole, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap();
        assert_eq!(rows.len(), 10);

        let out = dir.path().join(format!("parts-{name}"));
        let first = RunSettings { max: Some(4), ..RunSettings { out: out.clone(), ..whole.clone() } };
        assert_eq!(certify(&first, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap().len(), 4);
        let again = certify(&first, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap_err();
        assert!(format!("{again:#}").contains("pass --resume"), "{again:#}");
        // Another batch changes no count.
        let rest = RunSettings { resume: true, max: None, batch: 700, ..first.clone() };
        let resumed = certify(&rest, &settings, &mut smoothed(), &dataset(), how, &mut ()).unwrap();
        assert_eq!(values(&resumed), values(&rows));
        assert_eq!(values(&read_rows::<CertifyRow>(&out, Unfinished::Refuse).unwrap()), values(&rows));

        let other = Settings::new(&Options { sigma: 0.25, n: 2000 }).unwrap();
        let refused = certify(&rest, &other, &mut smoothed(), &dataset(), how, &mut ()).unwrap_err();
        assert!(format!("{refused:#}").contains("the records were made with sigma 0.5"), "{refused:#}");
    }
}
