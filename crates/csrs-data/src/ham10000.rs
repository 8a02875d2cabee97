//! HAM10000: `HAM10000_metadata.csv` and the images in folders below the data
//! folder (`HAM10000_images_part_1/`, …).
//!
//! There is no official test split. Images of the same lesion stay on the
//! same side: the split is stratified over lesions (20% test, seed 0).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::image_folder::{SHAPE, is_image, sorted_entries};
use crate::{DataError, Dataset, Result, Split, stratified_split};

pub(crate) const CLASSES: [&str; 7] = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"];
const METADATA: &str = "HAM10000_metadata.csv";
const SPLIT_SEED: u64 = 0;

pub(crate) fn load(dir: &Path, split: Split) -> Result<Dataset> {
    let metadata = dir.join(METADATA);
    let bytes = crate::gzip::read(&metadata, crate::MAX_FILE_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|err| {
        DataError::corrupt(&metadata, err.utf8_error().valid_up_to() as u64, "not UTF-8 text, expected CSV")
    })?;
    let images = image_files(dir)?;

    // lesion -> (class, files)
    let mut lesions: BTreeMap<String, (usize, Vec<PathBuf>)> = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines.next().map(|(_, l)| l.split(',').map(str::trim).collect()).unwrap_or_default();
    let column = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| DataError::Line {
            path: metadata.clone(),
            line: 1,
            message: format!("no `{name}` column, expected lesion_id, image_id and dx"),
        })
    };
    let (lesion_col, image_col, dx_col) = (column("lesion_id")?, column("image_id")?, column("dx")?);
    for (index, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |message: String| DataError::Line { path: metadata.clone(), line: index + 1, message };
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let cell =
            |i: usize| cells.get(i).copied().ok_or_else(|| bad(format!("{} columns, expected more", cells.len())));
        let dx = cell(dx_col)?;
        let class = CLASSES
            .iter()
            .position(|&c| c == dx)
            .ok_or_else(|| bad(format!("diagnosis {dx:?}, expected one of {}", CLASSES.join(", "))))?;
        let image_id = cell(image_col)?;
        let file =
            images.get(image_id).ok_or_else(|| bad(format!("no image file {image_id}.jpg below the data folder")))?;
        let lesion = cell(lesion_col)?;
        let (lesion_class, files) = lesions.entry(lesion.to_owned()).or_insert((class, Vec::new()));
        // A lesion is one example: its images must not teach two classes.
        if *lesion_class != class {
            let first = CLASSES[*lesion_class];
            return Err(bad(format!("lesion {lesion} is diagnosed {dx} here and {first} on an earlier line")));
        }
        files.push(file.clone());
    }
    if lesions.is_empty() {
        return Err(DataError::Empty { path: metadata, message: "no images listed".into() });
    }

    let lesion_list: Vec<&(usize, Vec<PathBuf>)> = lesions.values().collect();
    let lesion_labels: Vec<usize> = lesion_list.iter().map(|(class, _)| *class).collect();
    let (train, test) = stratified_split(&lesion_labels, lesion_labels.len() / 5, SPLIT_SEED);
    let chosen = match split {
        Split::Train => train,
        Split::Test => test,
    };
    let (mut files, mut labels) = (Vec::new(), Vec::new());
    for i in chosen {
        let (class, lesion_files) = lesion_list[i];
        files.extend(lesion_files.iter().cloned());
        labels.extend(std::iter::repeat_n(*class, lesion_files.len()));
    }
    let names = CLASSES.iter().map(|&c| c.to_owned()).collect();
    Ok(Dataset::from_files("ham10000", SHAPE, files, labels, names))
}

/// Image files directly in `dir` or one folder below, by file stem.
fn image_files(dir: &Path) -> Result<HashMap<String, PathBuf>> {
    let mut found = HashMap::new();
    for entry in sorted_entries(dir)? {
        let files = if entry.is_dir() { sorted_entries(&entry)? } else { vec![entry] };
        for file in files.into_iter().filter(|f| is_image(f)) {
            if let Some(stem) = file.file_stem().and_then(|s| s.to_str()) {
                found.insert(stem.to_owned(), file.clone());
            }
        }
    }
    Ok(found)
}
