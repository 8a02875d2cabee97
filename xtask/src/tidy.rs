//! Invariants of the source tree, checked by `cargo test -p xtask`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::ci::TEST_COMMAND;
use crate::project_root;

/// Which csrs crates each crate may depend on (docs/architecture.md).
/// Lower layers never depend on higher ones.
const ALLOWED: &[(&str, &[&str])] = &[
    ("csrs-artifacts", &[]),
    ("csrs-cost", &[]),
    ("csrs-stats", &["csrs-cost"]),
    ("csrs-data", &[]),
    ("csrs-models", &["csrs-artifacts", "csrs-data"]),
    ("csrs-engine", &["csrs-models"]),
    // csrs-engine as a dev-dependency only: the tests run what is read.
    ("csrs-onnx", &["csrs-engine", "csrs-models"]),
    ("csrs-sampling", &["csrs-cost", "csrs-engine", "csrs-models", "csrs-stats"]),
    (
        "csrs-train",
        &["csrs-artifacts", "csrs-cost", "csrs-data", "csrs-engine", "csrs-models", "csrs-sampling", "csrs-stats"],
    ),
    ("csrs-records", &["csrs-artifacts", "csrs-cost", "csrs-data", "csrs-stats"]),
    ("csrs-report", &["csrs-artifacts", "csrs-records", "csrs-stats"]),
    (
        "csrs-run",
        &[
            "csrs-artifacts",
            "csrs-cost",
            "csrs-data",
            "csrs-engine",
            "csrs-models",
            "csrs-onnx",
            "csrs-records",
            // A dev-dependency only: its example prints the table.
            "csrs-report",
            "csrs-sampling",
            "csrs-stats",
        ],
    ),
    (
        "csrs-cli",
        &[
            "csrs-artifacts",
            "csrs-cost",
            "csrs-data",
            "csrs-engine",
            "csrs-models",
            "csrs-records",
            "csrs-report",
            "csrs-run",
            "csrs-sampling",
            "csrs-stats",
            "csrs-train",
        ],
    ),
    (
        "csrs-py",
        &[
            "csrs-artifacts",
            "csrs-cost",
            "csrs-data",
            "csrs-records",
            "csrs-report",
            "csrs-run",
            "csrs-sampling",
            "csrs-stats",
        ],
    ),
];

/// Crates that must build and test without tensors or a GPU.
const NO_BURN: &[&str] = &["csrs-artifacts", "csrs-cost", "csrs-stats", "csrs-records", "csrs-report", "csrs-py"];

/// The features that bring burn in through a crate that has it optional.
const BURN_FEATURES: &[&str] = &["models", "cuda"];

fn manifests() -> BTreeMap<String, toml::Table> {
    let crates = project_root().join("crates");
    fs::read_dir(&crates)
        .unwrap()
        .map(|entry| {
            let dir = entry.unwrap().path();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            (name, manifest.parse().unwrap())
        })
        .collect()
}

/// Every dependency name of a manifest: normal, dev and build.
fn dependencies(manifest: &toml::Table) -> Vec<String> {
    ["dependencies", "dev-dependencies", "build-dependencies"]
        .iter()
        .filter_map(|section| manifest.get(*section).and_then(toml::Value::as_table))
        .flat_map(|table| table.keys().cloned())
        .collect()
}

/// Whether a normal dependency of `manifest` is asked for a feature that
/// brings burn in, or for its default features (which bring it in for
/// `csrs-run` and `csrs-sampling`).
fn burn_features(manifest: &toml::Table) -> bool {
    let Some(deps) = manifest.get("dependencies").and_then(toml::Value::as_table) else { return false };
    deps.values().any(|dep| {
        let features = dep.get("features").and_then(toml::Value::as_array).into_iter().flatten();
        let asked = features.filter_map(toml::Value::as_str).any(|feature| BURN_FEATURES.contains(&feature));
        asked || dep.get("default-features").and_then(toml::Value::as_bool) == Some(true)
    })
}

#[test]
fn crate_graph_follows_the_layers() {
    let manifests = manifests();
    assert!(manifests.contains_key("csrs-cost") && manifests.contains_key("csrs-cli"));
    for (name, manifest) in &manifests {
        let allowed = ALLOWED
            .iter()
            .find(|(krate, _)| krate == name)
            .unwrap_or_else(|| panic!("{name} is not in the layer table of xtask/src/tidy.rs"))
            .1;
        for dep in dependencies(manifest).iter().filter(|dep| dep.starts_with("csrs-")) {
            assert!(allowed.contains(&dep.as_str()), "{name} must not depend on {dep}");
        }
        if NO_BURN.contains(&name.as_str()) {
            assert!(!dependencies(manifest).iter().any(|dep| dep.starts_with("burn")), "{name} must not use burn");
            assert!(!burn_features(manifest), "{name} must not ask its dependencies for burn ({BURN_FEATURES:?})");
        }
    }
}

/// xtask drives the `csrs` binary; of the library it uses only the names of
/// a run's files and atomic writes, from a crate without dependencies, so it
/// builds in seconds.
#[test]
fn xtask_depends_only_on_the_artifact_names() {
    let manifest: toml::Table = fs::read_to_string(project_root().join("xtask/Cargo.toml")).unwrap().parse().unwrap();
    let csrs: Vec<String> = dependencies(&manifest).into_iter().filter(|dep| dep.starts_with("csrs")).collect();
    assert_eq!(csrs, ["csrs-artifacts"]);
    let artifacts = &manifests()["csrs-artifacts"];
    assert!(dependencies(artifacts).is_empty(), "csrs-artifacts must stay without dependencies");
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The string literals of `source` before its tests (the first
/// `#[cfg(test)]` on a `mod`), comments left out: what its code can say to
/// a user. Raw strings are read whole; character literals and lifetimes
/// are stepped over.
fn string_literals(source: &str) -> Vec<String> {
    let code: Vec<char> = tests_cut(source).chars().collect();
    let starts =
        |at: usize, text: &str| code.get(at..at + text.len()).is_some_and(|s| s.iter().copied().eq(text.chars()));
    let find = |from: usize, text: &str| (from..code.len()).find(|&at| starts(at, text)).unwrap_or(code.len());
    let (mut literals, mut at) = (Vec::new(), 0);
    while at < code.len() {
        let word_before = at > 0 && (code[at - 1].is_alphanumeric() || code[at - 1] == '_');
        let hashes = code[at + 1..].iter().take_while(|&&c| c == '#').count();
        if starts(at, "//") {
            at = find(at, "\n");
        } else if starts(at, "/*") {
            at = find(at, "*/") + 2;
        } else if code[at] == 'r' && !word_before && code.get(at + 1 + hashes) == Some(&'"') {
            let end = "\"".to_owned() + &"#".repeat(hashes);
            let start = at + 2 + hashes;
            at = find(start, &end);
            literals.push(code[start..at.min(code.len())].iter().collect());
            at += end.len();
        } else if code[at] == '"' {
            let mut text = String::new();
            at += 1;
            while at < code.len() && code[at] != '"' {
                if code[at] == '\\' {
                    text.push(code[at]);
                    at += 1;
                }
                text.extend(code.get(at));
                at += 1;
            }
            literals.push(text);
            at += 1;
        } else if code[at] == '\'' && code.get(at + 1) == Some(&'\\') {
            // An escaped character literal: '\'', '\\', '\u{22}'.
            at = find(at + 3, "'") + 1;
        } else if code[at] == '\'' && code.get(at + 2) == Some(&'\'') {
            at += 3;
        } else {
            at += 1;
        }
    }
    literals
}

/// `source` up to its test module: the first `#[cfg(test)]` followed by a
/// `mod` (a test-only item elsewhere cuts nothing).
fn tests_cut(source: &str) -> &str {
    let mut from = 0;
    while let Some(found) = source[from..].find("#[cfg(test)]") {
        let at = from + found;
        let rest = source[at + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") || rest.starts_with("pub mod ") {
            return &source[..at];
        }
        from = at + 1;
    }
    source
}

/// A library's errors and notes name settings through csrs-artifacts'
/// `Setting`, spelled by the front end that shows them: no library (the
/// Python package included) writes a command-line flag itself.
#[test]
fn no_library_text_names_a_command_line_flag() {
    let root = project_root();
    let files = library_sources();
    // `--resume`, and `--{}` or `--{name}` written with format!.
    let flag = |text: &str| {
        text.match_indices("--").any(|(at, _)| text[at + 2..].starts_with(|c: char| c.is_ascii_lowercase() || c == '{'))
    };
    let named: Vec<String> = files
        .iter()
        .flat_map(|path| {
            let literals = string_literals(&fs::read_to_string(path).unwrap());
            let file = path.strip_prefix(&root).unwrap().display().to_string();
            literals.into_iter().filter(|text| flag(text)).map(move |text| format!("{file}: {text:?}"))
        })
        .collect();
    assert!(named.is_empty(), "library texts that name a flag (name a csrs_artifacts::Setting instead): {named:#?}");
    let sample = concat!(
        "let a = '\"'; let b = '\\''; fn f<'a>(x: &'a str) {} // \"--no\"\n",
        "/* \"--no\" */ bail!(\"pass --resume, \\\"quoted\\\"\"); let r = r#\"raw \"--{name}\"\"#;\n",
        "#[cfg(test)]\nfn helper() { \"kept\"; }\n#[cfg(test)]\nmod tests { \"--test\" }",
    );
    assert_eq!(string_literals(sample), ["pass --resume, \\\"quoted\\\"", "raw \"--{name}\"", "kept"]);
    assert!(flag("raw \"--{name}\"") && flag("--resume") && !flag("---|") && !flag("-- x"));
}

/// The source files of the library crates: every crate but the command.
fn library_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (name, _) in ALLOWED.iter().filter(|(name, _)| *name != "csrs-cli") {
        rust_files(&project_root().join("crates").join(name).join("src"), &mut files);
    }
    files
}

/// The code of `path` before its test module.
fn code_of(path: &Path) -> String {
    tests_cut(&fs::read_to_string(path).unwrap()).to_owned()
}

/// Where a library writes to the terminal or ends the process itself, as
/// docs/architecture.md says it may: the trainer, when a data-parallel
/// replica panicked (the others would wait for it forever), and
/// csrs-records' note that unfinished records are read and its warning
/// that a run's classes go unchecked.
const PRINTS: &[(&str, &str)] = &[
    ("crates/csrs-records/src/file.rs", "eprintln!("),
    ("crates/csrs-records/src/settings.rs", "eprintln!("),
    ("crates/csrs-train/src/trainer.rs", "eprintln!("),
    ("crates/csrs-train/src/trainer.rs", "process::abort("),
];

#[test]
fn libraries_leave_printing_and_exiting_to_the_command() {
    let root = project_root();
    let calls = [
        "println!(",
        "eprintln!(",
        "print!(",
        "eprint!(",
        "dbg!(",
        "stdout()",
        "stderr()",
        "process::exit(",
        "process::abort(",
    ];
    let mut found: Vec<(String, &str)> = Vec::new();
    for path in library_sources() {
        let file = path.strip_prefix(&root).unwrap().display().to_string();
        let code = code_of(&path);
        for line in code.lines().filter(|line| !line.trim_start().starts_with("//")) {
            // `eprintln!(` holds `println!(`: the longest call named.
            let call = calls.iter().filter(|call| line.contains(*call)).max_by_key(|call| call.len());
            found.extend(call.map(|call| (file.clone(), *call)));
        }
    }
    found.sort();
    found.dedup();
    let mut allowed: Vec<(String, &str)> = PRINTS.iter().map(|&(file, call)| (file.to_owned(), call)).collect();
    allowed.sort();
    assert_eq!(
        found, allowed,
        "a library prints or exits (or an allowed place no longer does): update PRINTS and docs/architecture.md"
    );
}

/// The error types of the libraries are those docs/architecture.md lists.
#[test]
fn the_documented_error_types_are_the_libraries() {
    let mut defined: Vec<String> = library_sources()
        .iter()
        .flat_map(|path| {
            let code = code_of(path);
            let names: Vec<String> = code
                .lines()
                .filter_map(|line| {
                    let rest = line
                        .trim_start()
                        .strip_prefix("pub struct ")
                        .or_else(|| line.trim_start().strip_prefix("pub enum "))?;
                    let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    name.ends_with("Error").then_some(name)
                })
                .collect();
            names
        })
        .collect();
    defined.sort();
    let doc = fs::read_to_string(project_root().join("docs/architecture.md")).unwrap();
    let line = doc.lines().find(|line| line.starts_with("- **Errors:**")).expect("the error list");
    let mut documented: Vec<String> = line
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| name.ends_with("Error") && name.chars().all(char::is_alphanumeric))
        .map(str::to_owned)
        .collect();
    documented.sort();
    assert_eq!(documented, defined, "docs/architecture.md's error list and the libraries' error types");
}

/// Each crate with Rust integration tests links them into one binary,
/// `it`: a binary per file would link burn once per file.
#[test]
fn each_crate_has_one_integration_test_binary() {
    for (name, manifest) in manifests() {
        let tests = project_root().join("crates").join(&name).join("tests");
        let mut files = Vec::new();
        if tests.is_dir() {
            rust_files(&tests, &mut files);
        }
        if files.is_empty() {
            continue;
        }
        let package = manifest["package"].as_table().unwrap();
        assert_eq!(package.get("autotests").and_then(toml::Value::as_bool), Some(false), "{name}: autotests = false");
        let binaries = manifest.get("test").and_then(toml::Value::as_array).map_or(0, Vec::len);
        let it = manifest.get("test").and_then(|t| t.get(0)).and_then(|t| t.get("path")).and_then(toml::Value::as_str);
        assert_eq!((binaries, it), (1, Some("tests/it/main.rs")), "{name}: one [[test]], tests/it/main.rs");
    }
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let root = project_root();
    let mut files = Vec::new();
    for dir in ["crates", "xtask/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    let undocumented: Vec<String> = files
        .iter()
        .filter(|path| !path.components().any(|c| c.as_os_str() == "target"))
        .filter(|path| !fs::read_to_string(path).unwrap().starts_with("//!"))
        .map(|path| path.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(undocumented.is_empty(), "files without a leading //! doc comment: {undocumented:?}");
}

#[test]
fn readme_and_ci_run_the_same_tests() {
    let root = project_root();
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let command = format!("cargo {}", TEST_COMMAND.join(" "));
    assert!(readme.contains(&format!("\n{command}\n")), "README.md must give `{command}` as the test command");
    let ci = fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(ci.contains("cargo xtask ci"), ".ci/run must run `cargo xtask ci`");
}

/// The crate graph of docs/architecture.md: each crate's line
/// `name -> dep, dep (why), ...`, as names.
fn documented_graph() -> BTreeMap<String, Vec<String>> {
    let doc = fs::read_to_string(project_root().join("docs/architecture.md")).unwrap();
    let block = doc.split("The graph, lowest layer first").nth(1).expect("docs/architecture.md has the crate graph");
    let block = block.split("```").nth(1).expect("the graph is a code block");
    block
        .lines()
        .filter_map(|line| line.split_once(" -> "))
        .map(|(name, deps)| {
            // Commas inside brackets belong to a reason.
            let mut names = Vec::new();
            let (mut depth, mut item) = (0, String::new());
            for c in deps.chars().chain([',']) {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ',' if depth == 0 => {
                        names.extend(item.split_whitespace().next().map(str::to_owned));
                        item.clear();
                    }
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            (name.trim().to_owned(), names)
        })
        .collect()
}

#[test]
fn the_documented_crate_graph_is_that_of_the_manifests() {
    let documented = documented_graph();
    let mut manifests = manifests();
    manifests.insert(
        "xtask".to_owned(),
        fs::read_to_string(project_root().join("xtask/Cargo.toml")).unwrap().parse().unwrap(),
    );
    for (name, manifest) in &manifests {
        let mut deps: Vec<String> = manifest
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map_or_else(Vec::new, |t| t.keys().cloned().collect());
        deps.sort();
        let mut listed =
            documented.get(name).unwrap_or_else(|| panic!("docs/architecture.md has no line for {name}")).clone();
        listed.sort();
        assert_eq!(listed, deps, "{name}: docs/architecture.md lists other dependencies than its Cargo.toml");
    }
    let unknown: Vec<&String> = documented.keys().filter(|name| !manifests.contains_key(*name)).collect();
    assert!(unknown.is_empty(), "docs/architecture.md lists crates that do not exist: {unknown:?}");
}
