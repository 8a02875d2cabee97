//! A sharded run's records, each resumed after a cut, merged into the
//! records of one run.

use std::io::Write;
use std::path::{Path, PathBuf};

use csrs_records::{CertifyRow, EndMark, RecordFile, Row, RunIdentity, Settings, Unfinished, merge, read_rows};
use csrs_stats::{Alpha, ClassCounts, Smoothing, certify};

/// The row of example `index`: class `index % 3`, counts that certify it.
fn row(index: usize) -> CertifyRow {
    let label = index % 3;
    let mut counts = vec![1; 3];
    counts[label] = 98 + index as u64;
    let selection = ClassCounts::new(counts.clone()).unwrap();
    let estimation = ClassCounts::new(counts.iter().map(|c| c * 10).collect()).unwrap();
    let certificate =
        certify(&selection, &estimation, None, Smoothing::gaussian(0.25).unwrap(), Alpha::new(0.001).unwrap()).unwrap();
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
    let part = format!("{shard}/{count}");
    let identity = RunIdentity { sigma: Some(0.25), shard: Some(part.clone()), ..RunIdentity::default() };
    let settings = Settings::new(&identity, &Options { sigma: 0.25, shard: &part, batch: 100 * (shard + 1) }).unwrap();
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

/// The files of the records at `path`: the records, their settings and
/// their end mark (`None` where absent).
fn files_of(path: &Path) -> Vec<Option<String>> {
    csrs_artifacts::CertificationFiles::new(path)
        .outputs()
        .iter()
        .map(|file| std::fs::read_to_string(file).ok())
        .collect()
}

#[test]
fn opening_records_to_resume_changes_nothing_until_the_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.tsv");
    write_shard(&path, 0, 1, None);
    // A partial last line, as a run killed while writing it leaves.
    let mut text = std::fs::read(&path).unwrap();
    let whole = text.len();
    text.extend_from_slice(b"10\t1\t1\tfal");
    std::fs::write(&path, &text).unwrap();
    let before = files_of(&path);
    let (file, kept) = RecordFile::open::<CertifyRow>(&path, true).unwrap();
    assert_eq!(kept.len(), 10);
    // A caller that refuses to continue (other settings) drops the file.
    drop(file);
    assert_eq!(files_of(&path), before);

    // The first record cuts the partial line and removes the end mark.
    let (mut file, _) = RecordFile::open::<CertifyRow>(&path, true).unwrap();
    file.append(&row(10)).unwrap();
    let after = std::fs::read(&path).unwrap();
    assert_eq!(after[..whole], text[..whole]);
    assert!(after[whole..].starts_with(b"10\t1\t1\t") && after.ends_with(b"\n"));
    assert!(!csrs_artifacts::CertificationFiles::new(&path).end_mark().exists());
    file.finish().unwrap();
    assert_eq!(read_rows::<CertifyRow>(&path, Unfinished::Refuse).unwrap().len(), 11);

    // Marking whole records cuts a partial line too: the mark describes
    // the records as they are.
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"11\t2").unwrap();
    let (file, _) = RecordFile::open::<CertifyRow>(&path, true).unwrap();
    file.finish().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), after);
    assert_eq!(read_rows::<CertifyRow>(&path, Unfinished::Refuse).unwrap().len(), 11);
}

#[test]
fn unfinished_records_are_refused_before_their_rows_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.tsv");
    write_shard(&path, 0, 1, None);
    let header = std::fs::read_to_string(&path).unwrap().lines().next().unwrap().to_owned();
    // A body that is not records: whoever parsed it would fail.
    let garbage = format!("{header}\n{}", "not a record\n".repeat(100_000));
    std::fs::write(&path, &garbage).unwrap();
    std::fs::remove_file(csrs_artifacts::CertificationFiles::new(&path).end_mark()).unwrap();
    let err = format!("{:#}", read_rows::<CertifyRow>(&path, Unfinished::Refuse).unwrap_err());
    assert!(err.contains("r.tsv has no end mark"), "{err}");
    let parsed = format!("{:#}", read_rows::<CertifyRow>(&path, Unfinished::Read).unwrap_err());
    assert!(parsed.contains("r.tsv:2: "), "{parsed}");

    // Marked records of another length are refused by their length alone.
    EndMark { records: 3, bytes: 100 }.write(&path).unwrap();
    let err = format!("{:#}", read_rows::<CertifyRow>(&path, Unfinished::Refuse).unwrap_err());
    let found = format!("r.tsv: {} bytes, but its end mark", garbage.len());
    assert!(err.contains(&found) && err.contains("says 3 records in 100 bytes: it was cut short"), "{err}");
    // A file that is not records at all is named as such.
    std::fs::write(&path, "a\tb\n1\t2\n").unwrap();
    let err = format!("{:#}", read_rows::<CertifyRow>(&path, Unfinished::Refuse).unwrap_err());
    assert!(err.contains("r.tsv: line 1 is not the header of these records"), "{err}");
}
