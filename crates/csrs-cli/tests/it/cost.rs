//! `csrs cost`: showing and rejecting cost files.

use crate::util::{csrs, repo_root};

#[test]
fn shows_seeds_and_levels() {
    let run = csrs(&repo_root(), &["cost", "configs/costs/cifar10-cat-to-animals.toml"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("configs/costs/cifar10-cat-to-animals.toml: 10 classes, binary costs"));
    assert!(
        run.stdout.contains("seed classes (1 of 10):\n  3: harmful 2 (1), 4 (1), 5 (1); cost levels 1\n"),
        "{}",
        run.stdout
    );

    let run = csrs(&repo_root(), &["cost", "configs/costs/breast-cancer.csv", "--classes", "2"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("real-valued costs"));
    assert!(run.stdout.contains("\nmalignant         0        10\n"), "{}", run.stdout);
}

#[test]
fn rejects_a_bad_file_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("costs.toml"), "kind = \"seedwise\"\nclasses = [\"a\", \"b\"]\nseeds = [\"c\"]\n")
        .unwrap();
    let run = csrs(dir.path(), &["cost", "costs.toml"], "");
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stderr, "csrs: error: costs.toml: key `seeds[0]`: unknown class \"c\", expected one of a, b\n");

    let run = csrs(&repo_root(), &["cost", "configs/costs/cifar10-seed-cat.toml", "--classes", "7"], "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.ends_with("seed-cat.toml: the file describes 10 classes, expected 7\n"), "{}", run.stderr);
}
