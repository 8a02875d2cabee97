//! What csrs does with the files a user has: outputs never overwrite an
//! existing file unless told (`--force`) nor an input ever, files written
//! in one go are whole or absent (killed, full disk), two writers of one
//! records file never both go ahead, and records that are not whole are
//! recognised by every reader.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use csrs_artifacts::CertificationFiles;

use crate::util::{csrs, repo_root};

const SHIPPED_MODEL: &str = "models/digits-gaussian-025";

/// A small finished certification run of the shipped model, as `out`.
fn certify(dir: &Path, out: &str, extra: &[&str]) -> crate::util::Run {
    let model = repo_root().join(SHIPPED_MODEL).display().to_string();
    let mut args = vec![
        "certify",
        "--model",
        &model,
        "--dataset",
        "digits",
        "--sigma",
        "0.25",
        "--n0",
        "20",
        "--n",
        "100",
        "--batch",
        "100",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"--max") {
        args.extend(["--max", "12"]);
    }
    csrs(dir, &args, "")
}

fn ok(run: &crate::util::Run) {
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

/// Asserts that `run` failed with exit code 2 and one line holding `needle`.
fn refused(run: &crate::util::Run, needle: &str) {
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(needle), "expected {needle:?} in {}", run.stderr);
}

/// Writes `shards` TSV shard files of `rows` records each in `dir`, made
/// from the records of a real run with their indices renumbered, each
/// with its end mark: inputs as large as a test needs, in no time.
fn fabricated_shards(dir: &Path, shards: usize, rows: usize) -> Vec<String> {
    ok(&certify(dir, "seed.tsv", &[]));
    let text = std::fs::read_to_string(dir.join("seed.tsv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.collect();
    (0..shards)
        .map(|shard| {
            let mut out = format!("{header}\n");
            for i in 0..rows {
                let index = i * shards + shard;
                let line = body[index % body.len()];
                out += &format!("{index}\t{}\n", line.split_once('\t').unwrap().1);
            }
            let name = format!("big-{shard}.tsv");
            std::fs::write(dir.join(&name), &out).unwrap();
            let mark = format!("{{\"records\":{rows},\"bytes\":{}}}\n", out.len());
            std::fs::write(dir.join(format!("{name}.end")), mark).unwrap();
            name
        })
        .collect()
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_csrs"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_merge_is_whole_marked_and_never_over_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    ok(&certify(dir.path(), "s0.tsv", &["--shard", "0/2"]));
    ok(&certify(dir.path(), "s1.tsv", &["--shard", "1/2"]));
    let merge = |out: &str, extra: &[&str]| {
        let mut args = vec!["merge", "--out", out];
        args.extend_from_slice(extra);
        args.extend(["s0.tsv", "s1.tsv"]);
        csrs(dir.path(), &args, "")
    };
    ok(&merge("all.tsv", &[]));
    let end = std::fs::read_to_string(dir.path().join("all.tsv.end")).unwrap();
    let bytes = std::fs::metadata(dir.path().join("all.tsv")).unwrap().len();
    assert_eq!(end.trim(), format!("{{\"records\":12,\"bytes\":{bytes}}}"));
    ok(&csrs(dir.path(), &["analyze", "all.tsv"], ""));

    // A second merge onto it is refused unless told, and then replaces it.
    refused(&merge("all.tsv", &[]), "all.tsv already exists: pass --force to replace it");
    ok(&merge("all.tsv", &["--force"]));
    // Onto one of its inputs, never; through a link neither.
    refused(&merge("s0.tsv", &["--force"]), "the output s0.tsv is also an input");
    std::os::unix::fs::symlink(dir.path().join("s1.tsv"), dir.path().join("link.tsv")).unwrap();
    refused(&merge("link.tsv", &["--force"]), "the output link.tsv is the input s1.tsv (the same file)");

    // Merged records cut short are recognised by every reader.
    let all = dir.path().join("all.tsv");
    let text = std::fs::read_to_string(&all).unwrap();
    let cut: String = text.lines().take(7).map(|line| format!("{line}\n")).collect();
    std::fs::write(&all, &cut).unwrap();
    let analyzed = csrs(dir.path(), &["analyze", "all.tsv"], "");
    refused(&analyzed, &format!("all.tsv: {} bytes, but its end mark", cut.len()));
    assert!(analyzed.stderr.contains("it was cut short or changed after its run ended"), "{}", analyzed.stderr);
    let partial = csrs(dir.path(), &["analyze", "--partial", "all.tsv"], "");
    refused(&partial, "cut short");

    // A shard whose run did not end is refused by merge, read by analyze
    // only when asked.
    std::fs::remove_file(dir.path().join("s1.tsv.end")).unwrap();
    refused(&merge("other.tsv", &[]), "s1.tsv has no end mark: its run has not finished");
    refused(&csrs(dir.path(), &["analyze", "s1.tsv"], ""), "s1.tsv has no end mark");
    let read = csrs(dir.path(), &["analyze", "--partial", "s1.tsv"], "");
    ok(&read);
    assert!(read.stderr.contains("s1.tsv has no end mark") && read.stderr.contains("reading its 6 complete records"));
    assert!(!dir.path().join("other.tsv").exists(), "a refused merge leaves nothing");
}

#[test]
fn two_merges_on_one_output_never_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let shards = fabricated_shards(dir.path(), 2, 20_000);
    for attempt in 0..3 {
        let out = format!("merged-{attempt}.tsv");
        let mut args = vec!["merge", "--out", &out];
        args.extend(shards.iter().map(String::as_str));
        let (mut a, mut b) = (spawn(dir.path(), &args), spawn(dir.path(), &args));
        let codes = [a.wait().unwrap().code(), b.wait().unwrap().code()];
        assert_eq!(codes.iter().filter(|code| **code == Some(0)).count(), 1, "{codes:?}");
        assert!(codes.contains(&Some(2)), "{codes:?}");
        ok(&csrs(dir.path(), &["analyze", &out], ""));
    }
    // A run writing the records holds their lock: a merge onto them waits
    // for nothing and stops.
    let held = std::fs::OpenOptions::new().create(true).append(true).open(dir.path().join("busy.tsv")).unwrap();
    held.lock().unwrap();
    let mut args = vec!["merge", "--force", "--out", "busy.tsv"];
    args.extend(shards.iter().map(String::as_str));
    refused(&csrs(dir.path(), &args, ""), "busy.tsv is being written by another csrs run");
}

#[test]
fn a_killed_merge_leaves_nothing_that_passes_as_whole() {
    let dir = tempfile::tempdir().unwrap();
    let shards = fabricated_shards(dir.path(), 2, 40_000);
    let mut args = vec!["merge", "--out", "merged.tsv"];
    args.extend(shards.iter().map(String::as_str));
    for delay in [5, 40, 150, 400] {
        let mut child = spawn(dir.path(), &args);
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        let finished = child.wait().unwrap().success();
        let merged = dir.path().join("merged.tsv");
        let length = std::fs::metadata(&merged).map_or(0, |m| m.len());
        if finished {
            ok(&csrs(dir.path(), &["analyze", "merged.tsv"], ""));
        } else {
            // Nothing, the empty file the merge claimed, or (killed between
            // the rename and the end mark) records without their end mark:
            // never something a reader takes as whole.
            let analyzed = csrs(dir.path(), &["analyze", "merged.tsv"], "");
            assert_eq!(analyzed.code, Some(2), "{}", analyzed.stderr);
        }
        // Running it again needs no --force unless records were left.
        let extra: &[&str] = if length > 0 { &["--force"] } else { &[] };
        let mut again = args.clone();
        again.extend_from_slice(extra);
        ok(&csrs(dir.path(), &again, ""));
        ok(&csrs(dir.path(), &["analyze", "merged.tsv"], ""));
        std::fs::remove_file(&merged).unwrap();
    }
    let left: Vec<String> = names_in(dir.path()).into_iter().filter(|name| name.contains(".tmp-")).collect();
    // Killed processes may leave their temporary files, hidden and named
    // for what they were; nothing else.
    assert!(left.iter().all(|name| name.starts_with(".merged.tsv.tmp-")), "{left:?}");
}

/// A tmpfs of `kilobytes` mounted on `dir`, unmounted when dropped; `None`
/// where this process cannot mount one (not root, or in a container that
/// forbids it).
struct SmallDisk<'a>(&'a Path);

impl<'a> SmallDisk<'a> {
    fn mount(dir: &'a Path, kilobytes: usize) -> Option<Self> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kilobytes}k"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status();
        status.is_ok_and(|s| s.success()).then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_the_old_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let shards = fabricated_shards(dir.path(), 2, 3_000);
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let Some(_mounted) = SmallDisk::mount(&disk, 128) else {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root and a system that allows it)");
        return;
    };
    let model = repo_root().join(SHIPPED_MODEL).display().to_string();
    for (out, old) in [("disk/merged.tsv", "an earlier merge\n"), ("disk/model.safetensors", "an earlier export")] {
        std::fs::write(dir.path().join(out), old).unwrap();
        let run = if out.ends_with(".tsv") {
            let mut args = vec!["merge", "--force", "--out", out];
            args.extend(shards.iter().map(String::as_str));
            csrs(dir.path(), &args, "")
        } else {
            csrs(dir.path(), &["model", "export", &model, "--force", "--out", out], "")
        };
        refused(&run, "No space left on device");
        assert_eq!(std::fs::read_to_string(dir.path().join(out)).unwrap(), old, "{out} is as it was");
        assert!(names_in(&disk).iter().all(|name| !name.contains(".tmp-")), "{:?}", names_in(&disk));
    }
}

#[test]
fn checkpoints_and_exports_never_overwrite_what_the_user_has() {
    let dir = tempfile::tempdir().unwrap();
    let init = |extra: &[&str]| {
        let mut args = vec!["model", "init", "--arch", "mlp", "--dataset", "digits", "--out", "m"];
        args.extend_from_slice(extra);
        csrs(dir.path(), &args, "")
    };
    ok(&init(&[]));
    let weights = std::fs::read(dir.path().join("m.mpk")).unwrap();
    refused(&init(&["--seed", "1"]), "m.json already exists: pass --force to replace it");
    assert_eq!(std::fs::read(dir.path().join("m.mpk")).unwrap(), weights);
    ok(&init(&["--seed", "1", "--force"]));
    assert_ne!(std::fs::read(dir.path().join("m.mpk")).unwrap(), weights, "--force replaced it");

    // Exporting a model onto its own weights, by name or through a link.
    let weights = std::fs::read(dir.path().join("m.mpk")).unwrap();
    refused(&csrs(dir.path(), &["model", "export", "m", "--out", "m.mpk"], ""), "the output m.mpk is also an input");
    std::os::unix::fs::symlink("m.mpk", dir.path().join("w.safetensors")).unwrap();
    let through_link = csrs(dir.path(), &["model", "export", "m", "--force", "--out", "w.safetensors"], "");
    refused(&through_link, "the output w.safetensors is the input m.mpk (the same file)");
    assert_eq!(std::fs::read(dir.path().join("m.mpk")).unwrap(), weights);

    ok(&csrs(dir.path(), &["model", "export", "m", "--out", "m.safetensors"], ""));
    refused(&csrs(dir.path(), &["model", "export", "m", "--out", "m.safetensors"], ""), "already exists");
    // Importing over a checkpoint, and onto the imported file itself.
    let import = |out: &str, extra: &[&str]| {
        let mut args = vec!["model", "import", "m.safetensors", "--dataset", "digits", "--out", out];
        args.extend_from_slice(extra);
        csrs(dir.path(), &args, "")
    };
    refused(&import("m", &[]), "m.json already exists");
    std::fs::rename(dir.path().join("m.safetensors"), dir.path().join("n.mpk")).unwrap();
    let onto_itself = csrs(dir.path(), &["model", "import", "n.mpk", "--dataset", "digits", "--out", "n"], "");
    refused(&onto_itself, "the output n.mpk is also an input");
}

#[test]
fn certify_counts_and_figures_follow_the_overwrite_rule() {
    let dir = tempfile::tempdir().unwrap();
    let counts = repo_root().join("examples/counts.jsonl").display().to_string();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["certify-counts", "--input", &counts, "--output", out];
        args.extend_from_slice(extra);
        csrs(dir.path(), &args, "")
    };
    std::fs::write(dir.path().join("certs.jsonl"), "mine\n").unwrap();
    refused(&run("certs.jsonl", &[]), "certs.jsonl already exists: pass --force");
    assert_eq!(std::fs::read_to_string(dir.path().join("certs.jsonl")).unwrap(), "mine\n");
    ok(&run("certs.jsonl", &["--force"]));
    assert!(std::fs::read_to_string(dir.path().join("certs.jsonl")).unwrap().contains("\"result\""));
    // A malformed line leaves no output file behind.
    std::fs::write(dir.path().join("bad.jsonl"), "{\"label\": 0}\n").unwrap();
    let bad = csrs(dir.path(), &["certify-counts", "--input", "bad.jsonl", "--output", "new.jsonl"], "");
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(!dir.path().join("new.jsonl").exists());

    ok(&certify(dir.path(), "r.tsv", &[]));
    ok(&csrs(dir.path(), &["analyze", "r.tsv", "--plot", "f.svg"], ""));
    refused(&csrs(dir.path(), &["analyze", "r.tsv", "--plot", "f.svg"], ""), "f.svg already exists");
    ok(&csrs(dir.path(), &["analyze", "r.tsv", "--plot", "f.svg", "--force"], ""));
}

/// The records `name` in `dir`, their settings and their end mark (`None`
/// where absent), with when each was last changed.
fn files_of(dir: &Path, name: &str) -> Vec<Option<(String, std::time::SystemTime)>> {
    let modified = |path: &Path| std::fs::metadata(path).ok()?.modified().ok();
    CertificationFiles::new(&dir.join(name))
        .outputs()
        .iter()
        .map(|path| Some((std::fs::read_to_string(path).ok()?, modified(path)?)))
        .collect()
}

#[test]
fn a_refused_resume_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    ok(&certify(dir.path(), "r.tsv", &["--max", "4"]));
    let refuse = |extra: &[&str], message: &str| {
        let before = files_of(dir.path(), "r.tsv");
        refused(&certify(dir.path(), "r.tsv", &[&["--resume"][..], extra].concat()), message);
        assert_eq!(files_of(dir.path(), "r.tsv"), before, "{extra:?}");
    };
    // Finished records (their end mark beside them), then records of a run
    // killed while writing a line (no end mark, a partial last line).
    for killed in [false, true] {
        if killed {
            std::fs::remove_file(dir.path().join("r.tsv.end")).unwrap();
            let mut records = std::fs::OpenOptions::new().append(true).open(dir.path().join("r.tsv")).unwrap();
            std::io::Write::write_all(&mut records, b"4\t1\t1\tfal").unwrap();
        }
        refuse(&["--alpha", "0.01"], "--resume: the records were made with alpha 0.001, this run has 0.01");
        refuse(&["--shard", "1/2"], "were made with shard \"0/1\"");
        refuse(&["--skip", "18446744073709551615"], "skip 18446744073709551615, expected at most");
        // Another run holds the records.
        let held = std::fs::OpenOptions::new().append(true).open(dir.path().join("r.tsv")).unwrap();
        held.lock().unwrap();
        refuse(&[], "r.tsv is being written by another csrs run");
        drop(held);
    }
    let settings = std::fs::read(dir.path().join("r.tsv.config.toml")).unwrap();
    std::fs::remove_file(dir.path().join("r.tsv.config.toml")).unwrap();
    refuse(&[], "--resume: r.tsv has no r.tsv.config.toml");
    // Records in the columns of an earlier csrs.
    std::fs::write(dir.path().join("r.tsv.config.toml"), settings).unwrap();
    let text = std::fs::read_to_string(dir.path().join("r.tsv")).unwrap();
    std::fs::write(dir.path().join("r.tsv"), text.replacen("\tdecided\t", "\t", 1)).unwrap();
    refuse(&[], "r.tsv: its columns are not those of this version of csrs");
}

#[test]
fn resuming_needs_the_records_settings_and_their_shard() {
    let dir = tempfile::tempdir().unwrap();
    ok(&certify(dir.path(), "r.tsv", &["--max", "4"]));
    std::fs::remove_file(dir.path().join("r.tsv.config.toml")).unwrap();
    let resumed = certify(dir.path(), "r.tsv", &["--resume"]);
    refused(&resumed, "--resume: r.tsv has no r.tsv.config.toml");
    let adopted = certify(dir.path(), "r.tsv", &["--resume", "--adopt-settings"]);
    ok(&adopted);
    assert!(adopted.stderr.contains("continuing its 4 records with this run's settings"), "{}", adopted.stderr);
    ok(&csrs(dir.path(), &["analyze", "r.tsv"], ""));

    ok(&certify(dir.path(), "s.tsv", &["--shard", "0/2"]));
    refused(&certify(dir.path(), "s.tsv", &["--shard", "1/2", "--resume"]), "were made with shard \"0/2\"");
    assert!(dir.path().join("s.tsv.end").exists(), "a refused resume leaves the finished records marked");
    // A run given its own resolved settings as --config resumes with them,
    // and leaves them as they are.
    let config = dir.path().join("s.tsv.config.toml");
    let before = files_of(dir.path(), "s.tsv")[1].clone();
    let own = ["certify", "--config", "s.tsv.config.toml", "--out", "s.tsv", "--resume"];
    let resumed = csrs(dir.path(), &own, "");
    ok(&resumed);
    assert!(resumed.stderr.contains("resuming s.tsv: 6 records kept, 0 examples to go"), "{}", resumed.stderr);
    assert_eq!(files_of(dir.path(), "s.tsv")[1], before);
    // Unless the run would change them.
    let changed = csrs(dir.path(), &[&own[..], &["--batch", "200"]].concat(), "");
    let message = "--config s.tsv.config.toml is the settings file of --out s.tsv, and this run would change its batch";
    refused(&changed, message);
    assert_eq!(files_of(dir.path(), "s.tsv")[1], before);
    // Another run given them as --config writes its own beside its records.
    ok(&csrs(dir.path(), &["certify", "--config", "s.tsv.config.toml", "--out", "t.tsv"], ""));
    assert_eq!(std::fs::read(dir.path().join("t.tsv.config.toml")).unwrap(), std::fs::read(&config).unwrap());
}

#[test]
fn records_being_written_or_stopped_are_recognised_and_line_endings_do_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    ok(&certify(dir.path(), "r.tsv", &[]));
    ok(&certify(dir.path(), "r.jsonl", &[]));
    let table = csrs(dir.path(), &["analyze", "--format", "tsv", "r.tsv"], "");
    ok(&table);

    // The same records with CRLF line endings (and their end mark made for
    // them) read the same, in both formats.
    for name in ["r.tsv", "r.jsonl"] {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap().replace('\n', "\r\n");
        let crlf = format!("crlf-{name}");
        std::fs::write(dir.path().join(&crlf), &text).unwrap();
        std::fs::copy(dir.path().join(format!("{name}.config.toml")), dir.path().join(format!("{crlf}.config.toml")))
            .unwrap();
        let mark = format!("{{\"records\":12,\"bytes\":{}}}", text.len());
        std::fs::write(dir.path().join(format!("{crlf}.end")), mark).unwrap();
        let again = csrs(dir.path(), &["analyze", "--format", "tsv", &crlf], "");
        ok(&again);
        let cells = |run: &crate::util::Run| run.stdout.lines().nth(1).unwrap().split_once('\t').unwrap().1.to_owned();
        assert_eq!(cells(&again), cells(&table), "{name}");
    }

    // A run still writing holds its lock: readers say so.
    let held = std::fs::OpenOptions::new().append(true).open(dir.path().join("r.tsv")).unwrap();
    std::fs::remove_file(dir.path().join("r.tsv.end")).unwrap();
    held.lock().unwrap();
    refused(&csrs(dir.path(), &["analyze", "r.tsv"], ""), "r.tsv is still being written by a csrs run");
    let read = csrs(dir.path(), &["analyze", "--partial", "r.tsv"], "");
    ok(&read);
    assert!(read.stderr.contains("still being written"), "{}", read.stderr);
    drop(held);
    // Resuming a finished run changes nothing and marks it whole again.
    ok(&certify(dir.path(), "r.tsv", &["--resume"]));
    ok(&csrs(dir.path(), &["analyze", "r.tsv"], ""));
}

#[test]
fn a_killed_export_leaves_the_old_file_or_the_whole_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let init = ["model", "init", "--arch", "resnet18", "--dataset", "imagenette", "--classes", "10", "--out", "big"];
    ok(&csrs(dir.path(), &init, ""));
    ok(&csrs(dir.path(), &["model", "export", "big", "--out", "whole.safetensors"], ""));
    let whole = std::fs::read(dir.path().join("whole.safetensors")).unwrap();
    let out = dir.path().join("out.safetensors");
    let args = ["model", "export", "big", "--force", "--out", "out.safetensors"];
    let mut outcomes = Vec::new();
    for delay in [100, 500, 1000, 1500, 2000] {
        std::fs::write(&out, "an earlier export").unwrap();
        let mut child = spawn(dir.path(), &args);
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        let finished = child.wait().unwrap().success();
        let now = std::fs::read(&out).unwrap();
        if finished {
            // Whole: the same length and tensors (the metadata's keys may
            // come in another order).
            assert_eq!(now.len(), whole.len(), "a finished export is whole");
            assert_eq!(now[now.len() - 4096..], whole[whole.len() - 4096..]);
        } else {
            assert_eq!(now, b"an earlier export", "killed after {delay} ms, the old file is as it was");
        }
        outcomes.push(finished);
    }
    eprintln!("finished before the kill: {outcomes:?}");
}
