//! A sharded run's records, each resumed after a cut, merged into the
//! records of one run.

use std::path::{Path, PathBuf};

use csrs_records::{CertifyRow, RecordFile, Row, Settings, Unfinished, merge, read_rows};
use csrs_stats::{Alpha, ClassCounts, Sigma, certify};

/// The row of example `index`: class `index % 3`, counts that certify it.
fn row(index: usize) -> CertifyRow {
    let label = index % 3;
    let mut counts = vec![1; 3];
    counts[label] = 98 + index as u64;
    let selection = ClassCounts::new(counts.clone()).unwrap();
    let estimation = ClassCounts::new(counts.iter().map(|c| c * 10).collect()).unwrap();
    let certificate =
        certify(&selection, &estimation, None, Sigma::new(0.25).unwrap(), Alpha::new(0.001).unwrap()).unwrap();
    CertifyRow::new(index, label, Some(label), certificate, &estimation, 0.125)
}

#[derive(serde::Serialize)]
struct Options<'a> {
    sigma: f64,
    shard: &'a str,
    batch: usize,
}

/// Writes shard `shard` of `count` for examples 0..10, stopping after
/// `stop_after` rows when given (a killed run: no end mark).
fn write_shard(path: &Path, shard: usize, count: usize, stop_after: Option<usize>) {
    let (mut file, kept) = RecordFile::open::<CertifyRow>(path, path.exists()).unwrap();
    let settings =
        Settings::new(&Options { sigma: 0.25, shard: &format!("{shard}/{count}"), batch: 100 * (shard + 1) }).unwrap();
    settings.save_beside(path, None).unwrap();
    let todo = (0..10).filter(|i| i % count == shard).filter(|i| !kept.iter().any(|row| row.index() == *i));
    for (written, index) in todo.enumerate() {
        if stop_after == Some(written) {
            return;
        }
        file.append(&row(index)).unwrap();
    }
    file.finish().unwrap();
}

#[test]
fn shards_resumed_after_a_cut_merge_into_the_records_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let shards: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("shard-{i}.tsv"))).collect();
    write_shard(&shards[0], 0, 2, Some(2));
    let err = read_rows::<CertifyRow>(&shards[0], Unfinished::Refuse).unwrap_err().to_string();
    assert!(err.contains("has no end mark"), "{err}");
    assert_eq!(read_rows::<CertifyRow>(&shards[0], Unfinished::Read).unwrap().len(), 2);
    write_shard(&shards[0], 0, 2, None);
    write_shard(&shards[1], 1, 2, None);

    let merged = dir.path().join("all.tsv");
    assert_eq!(merge(&shards, &merged, false).unwrap(), 10);
    let rows = read_rows::<CertifyRow>(&merged, Unfinished::Refuse).unwrap();
    assert_eq!(rows, (0..10).map(row).collect::<Vec<_>>());
    // The merged settings are those of the unsharded run.
    let settings = Settings::of_run(&merged).unwrap().unwrap();
    assert_eq!(settings.get("shard").and_then(|s| s.as_str()), Some("0/1"));
    let again = merge(&shards, &merged, false).unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");
}
