//! Property tests of the readers of users' dataset files: CIFAR-10 and
//! CIFAR-100 (binary and Python versions), MNIST's IDX files (plain and
//! gzip-compressed), image folders and HAM10000 (metadata CSV and images).
//!
//! These files come from downloads, archives and disks: they can be cut
//! short, damaged, or not what their names say. Each property writes either
//! arbitrary bytes in place of a file, or a small valid file that it then
//! cuts short, flips bits of, gives other header fields (counts, dimensions,
//! labels, CSV cells) or follows with extra bytes, and loads it with
//! [`csrs_data::load`]. Whatever the bytes, the load must come back within a
//! deadline and without a panic, with either
//! - an error whose message is one non-empty line (the CLI prints it so), or
//! - a consistent dataset: images of a shape with pixels, one per label,
//!   every label below the number of classes, every pixel in [0, 1] (image
//!   files that do not decode give such an error when read instead).
//!
//! The cases come from a fixed seed: every run tests the same files. The
//! embedded datasets (digits, mnist-5k) read no user file and are not
//! fuzzed; the pickle reader's opcode sequences have their own property in
//! `src/pickle.rs`. The plain tests at the end are the cases that failed
//! before the readers were fixed.

use std::io::{Cursor, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use csrs_data::{DataError, Dataset, DatasetName, Split, load};
use image::{DynamicImage, ImageFormat};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed};

use crate::{idx, pixels, python_batch, write};

/// Cases per property of files without images: enough to reach every check
/// of each reader, few enough for a few seconds in a debug build.
const CASES: u32 = 200;
/// Cases per property that decodes images, which takes longer.
const IMAGE_CASES: u32 = 64;
/// How long one load, with the decoding of its images, may take: far more
/// than any case needs, so a case that takes longer is taken to loop.
const DEADLINE: Duration = Duration::from_secs(20);
/// Pixels of a CIFAR image.
const CIFAR_PIXELS: usize = 3072;

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0),
        // The seed reproduces a failure; no files of failed cases are kept.
        failure_persistence: None,
        // A case that outlasts the deadline would make shrinking take minutes.
        max_shrink_time: 60_000,
        ..Config::default()
    }
}

/// Loads `split` of `name` from `dir` on a thread of its own, and fails the
/// case if the load (or reading its images) panics, outlasts [`DEADLINE`],
/// or gives a multi-line error or an inconsistent dataset.
fn check_load(name: DatasetName, split: Split, dir: &Path) -> Result<(), TestCaseError> {
    let (sender, receiver) = mpsc::channel();
    let dir = dir.to_owned();
    std::thread::spawn(move || sender.send(check_outcome(load(name, split, Some(&dir)))));
    match receiver.recv_timeout(DEADLINE) {
        Ok(outcome) => outcome.map_err(|problem| TestCaseError::fail(format!("{name}: {problem}"))),
        Err(RecvTimeoutError::Timeout) => Err(TestCaseError::fail(format!("{name}: no answer in {DEADLINE:?}"))),
        Err(RecvTimeoutError::Disconnected) => Err(TestCaseError::fail(format!("{name}: the reader panicked"))),
    }
}

/// What is wrong with the outcome of a load, if anything.
fn check_outcome(loaded: csrs_data::Result<Dataset>) -> Result<(), String> {
    let data = match loaded {
        Ok(data) => data,
        Err(err) => return one_line(&err),
    };
    let (size, classes) = (data.shape().len(), data.n_classes());
    if size == 0 {
        return Err(format!("images of shape {:?}, without pixels", data.shape()));
    }
    if let Some(label) = data.labels().iter().find(|&&label| label >= classes) {
        return Err(format!("label {label}, with {classes} classes"));
    }
    for index in 0..data.len() {
        match data.image(index) {
            Err(err) => one_line(&err)?,
            Ok(image) if image.len() != size => {
                return Err(format!("image {index} has {} pixels, not {size}", image.len()));
            }
            Ok(image) => {
                if let Some(pixel) = image.iter().find(|pixel| !(0.0..=1.0).contains(*pixel)) {
                    return Err(format!("image {index} has pixel {pixel}, outside [0, 1]"));
                }
            }
        }
    }
    Ok(())
}

/// The CLI prints errors on one line: a line break inside would garble it.
fn one_line(err: &DataError) -> Result<(), String> {
    let message = err.to_string();
    if message.is_empty() || message.contains(['\n', '\r']) {
        return Err(format!("error message {message:?} is not one line"));
    }
    Ok(())
}

/// A change to a valid file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Cut the file short.
    Truncate(Index),
    /// Flip bits of one byte.
    Flip(Index, u8),
    /// Give one of the file's fields (see [`Layout`]) another value.
    Field(Index, u64),
    /// Add bytes at the end.
    Append(Vec<u8>),
}

/// Field values at the edges of what readers check (counts, label ranges,
/// CIFAR's 3 072 pixels, 16- and 32-bit limits, products that overflow,
/// -1 as a signed integer), and any other.
const FIELD_VALUES: [u64; 15] =
    [0, 1, 2, 9, 10, 99, 100, 255, 256, 3072, 65_535, 65_536, u32::MAX as u64, 1 << 62, u64::MAX];

/// A few mutations, `count` of them; field changes the most frequent.
fn mutations(count: Range<usize>) -> impl Strategy<Value = Vec<Mutation>> {
    let value = prop_oneof![prop::sample::select(&FIELD_VALUES[..]), any::<u64>()];
    let mutation = prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1..=u8::MAX).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        2 => (any::<Index>(), value).prop_map(|(field, value)| Mutation::Field(field, value)),
        1 => prop::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Append),
    ];
    prop::collection::vec(mutation, count)
}

/// Where a file's fields are, for [`Mutation::Field`].
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// CIFAR's binary records: `labels` label bytes, then the pixels.
    CifarRecords { labels: usize },
    /// A CIFAR batch pickled by [`python_batch`]: the two dimensions of
    /// `data`, the byte count of its pixels and the labels.
    CifarPickle,
    /// An IDX file: its magic number, then `words - 1` dimensions.
    Idx { words: usize },
    /// A PNG file: width and height.
    Png,
    /// A baseline JPEG file: height and width.
    Jpeg,
    /// A CSV file: any cell.
    Csv,
}

impl Layout {
    fn set_field(self, bytes: &mut Vec<u8>, field: Index, value: u64) {
        match self {
            Layout::CifarRecords { labels } => {
                let records = bytes.len() / (labels + CIFAR_PIXELS);
                if records > 0 {
                    let label = field.index(records * labels);
                    bytes[label / labels * (labels + CIFAR_PIXELS) + label % labels] = value as u8;
                }
            }
            Layout::CifarPickle => set_pickle_field(bytes, field, value as i64),
            Layout::Idx { words } => {
                let at = 4 * field.index(words);
                if let Some(word) = bytes.get_mut(at..at + 4) {
                    word.copy_from_slice(&(value as u32).to_be_bytes());
                }
            }
            Layout::Png if bytes.len() >= 33 => {
                // IHDR's data are bytes 16..29; the CRC of its type and data
                // follows, made anew, or decoders would stop at the change.
                let at = 16 + 4 * field.index(2);
                bytes[at..at + 4].copy_from_slice(&(value as u32).to_be_bytes());
                let mut crc = flate2::Crc::new();
                crc.update(&bytes[12..29]);
                bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
            }
            Layout::Jpeg => {
                // The frame header (SOF0): length, precision, height, width.
                if let Some(frame) = after(bytes, &[0xff, 0xc0]) {
                    let at = frame + 3 + 2 * field.index(2);
                    if let Some(dimension) = bytes.get_mut(at..at + 2) {
                        dimension.copy_from_slice(&(value as u16).to_be_bytes());
                    }
                }
            }
            Layout::Csv => set_csv_cell(bytes, field, value),
            // Cut short before the end of its header.
            Layout::Png => {}
        }
    }
}

fn mutate(layout: Layout, mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        match mutation {
            Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
            Mutation::Flip(at, bits) if !bytes.is_empty() => {
                let at = at.index(bytes.len());
                bytes[at] ^= bits;
            }
            Mutation::Flip(..) => {}
            Mutation::Field(field, value) => layout.set_field(&mut bytes, *field, *value),
            Mutation::Append(extra) => bytes.extend(extra),
        }
    }
    bytes
}

/// Where the first `marker` in `bytes` ends.
fn after(bytes: &[u8], marker: &[u8]) -> Option<usize> {
    bytes.windows(marker.len()).position(|window| window == marker).map(|at| at + marker.len())
}

/// Sets an integer of a [`python_batch`] pickle. The dimensions and labels
/// become 8-byte integers (`LONG1`), which can be negative or huge; the
/// byte count of the pixels is a raw 32-bit field.
fn set_pickle_field(bytes: &mut Vec<u8>, field: Index, value: i64) {
    // The dimensions follow the version of the array (K 1), the labels the
    // opening of their list.
    let integers: Vec<Range<usize>> = [&b"(K\x01"[..], b"]q\t("]
        .into_iter()
        .filter_map(|marker| after(bytes, marker))
        .flat_map(|start| integer_opcodes(bytes, start))
        .collect();
    match integers.get(field.index(integers.len() + 1)) {
        Some(integer) => drop(bytes.splice(integer.clone(), [&[0x8a, 8][..], &value.to_le_bytes()].concat())),
        None => {
            if let Some(count) = after(bytes, b"\x89T").and_then(|at| bytes.get_mut(at..at + 4)) {
                count.copy_from_slice(&(value as u32).to_le_bytes());
            }
        }
    }
}

/// The integer opcodes one after the other from `start`, as byte ranges.
fn integer_opcodes(bytes: &[u8], start: usize) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut at = start;
    loop {
        let len = match bytes.get(at..) {
            Some([b'K', ..]) => 2,
            Some([b'M', ..]) => 3,
            Some([b'J', ..]) => 5,
            Some([0x8a, n, ..]) => 2 + usize::from(*n),
            _ => return found,
        };
        if at + len > bytes.len() {
            return found;
        }
        found.push(at..at + len);
        at += len;
    }
}

/// Sets a cell of a CSV file: to text that HAM10000's reader looks for
/// (column names, diagnoses, ids), odd text, or a number.
fn set_csv_cell(bytes: &mut Vec<u8>, field: Index, value: u64) {
    const CELLS: [&str; 16] = [
        "",
        "mel",
        "nv",
        "vasc",
        "MEL",
        "wart",
        "lesion_id",
        "image_id",
        "dx",
        "HAM_0",
        "HAM_1",
        "ISIC_0",
        "ISIC_9",
        " nv ",
        "a\"b",
        "x\ry",
    ];
    let cell = CELLS.get((value % 32) as usize).map_or_else(|| value.to_string(), |&cell| cell.to_owned());
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut rows: Vec<Vec<&str>> = text.split('\n').map(|row| row.split(',').collect()).collect();
    let mut which = field.index(rows.iter().map(Vec::len).sum());
    for row in &mut rows {
        if which < row.len() {
            row[which] = &cell;
            break;
        }
        which -= row.len();
    }
    *bytes = rows.iter().map(|row| row.join(",")).collect::<Vec<_>>().join("\n").into_bytes();
}

fn cifar() -> impl Strategy<Value = DatasetName> {
    prop::sample::select(vec![DatasetName::Cifar10, DatasetName::Cifar100])
}

/// The test file of each version of CIFAR-10 and CIFAR-100, in the folder
/// where `load` looks for it.
fn cifar_test_file(name: DatasetName, binary: bool) -> &'static str {
    match (name, binary) {
        (DatasetName::Cifar10, true) => "cifar-10-batches-bin/test_batch.bin",
        (DatasetName::Cifar10, false) => "cifar-10-batches-py/test_batch",
        (_, true) => "cifar-100-binary/test.bin",
        (_, false) => "cifar-100-python/test",
    }
}

/// A valid CIFAR test file: binary records or a pickled batch, of images
/// with the given labels (CIFAR-10 takes the fine label modulo 10).
fn cifar_file(name: DatasetName, binary: bool, labels: &[(u8, u8)]) -> Vec<u8> {
    let ten = name == DatasetName::Cifar10;
    let fine: Vec<u8> = labels.iter().map(|&(_, fine)| if ten { fine % 10 } else { fine }).collect();
    let images = pixels(labels.len());
    if !binary {
        return python_batch(if ten { "labels" } else { "fine_labels" }, &fine, &images);
    }
    let mut records = Vec::new();
    for ((&(coarse, _), &fine), image) in labels.iter().zip(&fine).zip(images.chunks_exact(CIFAR_PIXELS)) {
        if !ten {
            records.push(coarse);
        }
        records.push(fine);
        records.extend(image);
    }
    records
}

fn cifar_layout(name: DatasetName, binary: bool) -> Layout {
    match (name, binary) {
        (_, false) => Layout::CifarPickle,
        (DatasetName::Cifar10, true) => Layout::CifarRecords { labels: 1 },
        (_, true) => Layout::CifarRecords { labels: 2 },
    }
}

/// Arbitrary bytes: short ones, and some as long as one or two records of
/// either binary version.
fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    let len = prop_oneof![3 => 0..512_usize, 1 => prop::sample::select(vec![3073, 3074, 6146, 6148])];
    len.prop_flat_map(|len| prop::collection::vec(any::<u8>(), len))
}

/// How an MNIST file is stored: plain or gzip-compressed, and if
/// compressed, whether the damage (or the arbitrary bytes) is in the
/// compressed stream rather than in what it holds.
#[derive(Debug, Clone, Copy)]
struct Storage {
    gzip: bool,
    in_stream: bool,
}

fn storage() -> impl Strategy<Value = Storage> {
    (any::<bool>(), any::<bool>()).prop_map(|(gzip, in_stream)| Storage { gzip, in_stream })
}

/// Writes the MNIST file `name`, `content` with `damage` done to it, as
/// `storage` says.
fn write_mnist_file(
    dir: &Path,
    name: &str,
    content: Vec<u8>,
    storage: Storage,
    damage: impl FnOnce(Vec<u8>) -> Vec<u8>,
) {
    let gzip = |bytes: Vec<u8>| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        gz.finish().unwrap()
    };
    let (name, bytes) = match storage {
        Storage { gzip: false, .. } => (name.to_owned(), damage(content)),
        Storage { gzip: true, in_stream: false } => (format!("{name}.gz"), gzip(damage(content))),
        Storage { gzip: true, in_stream: true } => (format!("{name}.gz"), damage(gzip(content))),
    };
    write(&dir.join(name), &bytes);
}

const MNIST_IMAGES: &str = "t10k-images-idx3-ubyte";
const MNIST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// A small image file: colour or grey, 8- or 16-bit, with or without alpha
/// (JPEG: 8-bit without alpha), its pixels a pattern.
fn image_file(format: ImageFormat, kind: u8, (width, height): (u32, u32)) -> Vec<u8> {
    let rgb = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 7) as u8, (y * 13) as u8, 200]));
    let image = match (kind % 4, format) {
        (1, _) => DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb).to_luma8()),
        (2, ImageFormat::Png) => DynamicImage::ImageRgba16(DynamicImage::ImageRgb8(rgb).to_rgba16()),
        (3, ImageFormat::Png) => DynamicImage::ImageLumaA8(DynamicImage::ImageRgb8(rgb).to_luma_alpha8()),
        _ => DynamicImage::ImageRgb8(rgb),
    };
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

/// Small sizes, and thin ones up to 1:5 000 (fewer: they take longest).
fn image_size() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        6 => (1..=24_u32, 1..=24_u32),
        1 => (1..=3_u32, 1000..=5000_u32),
        1 => (1000..=5000_u32, 1..=3_u32),
    ]
}

/// HAM10000's diagnoses, which the metadata names.
const DIAGNOSES: [&str; 7] = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"];
/// Images of the HAM10000 folders: few, since each takes long to decode in
/// a debug build. (So few lesions have no test split: the properties read
/// the training split.)
const HAM_IMAGES: usize = 3;

/// A HAM10000 folder: small images `ISIC_0`, `ISIC_1`, …, and the metadata
/// listing them with the given lesions and diagnoses.
fn write_ham10000(dir: &Path, rows: &[(usize, usize)]) {
    for i in 0..HAM_IMAGES {
        let path = dir.join(format!("HAM10000_images_part_1/ISIC_{i}.jpg"));
        write(&path, &image_file(ImageFormat::Jpeg, 0, (8, 6)));
    }
    let mut metadata = String::from("lesion_id,image_id,dx,dx_type,age,sex,localization\n");
    for (image, &(lesion, dx)) in rows.iter().enumerate() {
        metadata.push_str(&format!("HAM_{lesion},ISIC_{image},{},histo,50,male,back\n", DIAGNOSES[dx]));
    }
    write(&dir.join("HAM10000_metadata.csv"), metadata.as_bytes());
}

fn ham_rows() -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec((0..HAM_IMAGES, 0..DIAGNOSES.len()), HAM_IMAGES)
}

/// Rows that look a little like HAM10000's metadata.
const CSV_LIKE_ROWS: &str =
    "((HAM_[0-3]|[a-z ]*),(ISIC_[0-3]|ISIC_9|[a-z\"]*),(mel|nv|vasc|wart|[a-z ]*)(,[a-z0-9]*){0,2}\r?\n){0,6}";

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn cifar_reads_arbitrary_bytes(name in cifar(), binary in any::<bool>(), bytes in arbitrary_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join(cifar_test_file(name, binary)), &bytes);
        check_load(name, Split::Test, dir.path())?;
    }

    #[test]
    fn cifar_reads_damaged_files(
        name in cifar(),
        binary in any::<bool>(),
        labels in prop::collection::vec((0..20_u8, 0..100_u8), 0..3),
        mutations in mutations(1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let bytes = mutate(cifar_layout(name, binary), cifar_file(name, binary, &labels), &mutations);
        write(&dir.path().join(cifar_test_file(name, binary)), &bytes);
        check_load(name, Split::Test, dir.path())?;
    }

    #[test]
    fn mnist_reads_arbitrary_bytes(
        images in (any::<bool>(), prop::collection::vec(any::<u8>(), 0..64)),
        labels in (any::<bool>(), prop::collection::vec(any::<u8>(), 0..64)),
        storages in (storage(), storage()),
    ) {
        // Half the files start with the right magic number, to reach the
        // dimensions.
        let with_magic = |(magic, bytes): (bool, Vec<u8>), word: u32| {
            if magic { [&word.to_be_bytes()[..], &bytes].concat() } else { bytes }
        };
        let (images, labels) = (with_magic(images, 0x803), with_magic(labels, 0x801));
        let dir = tempfile::tempdir().unwrap();
        write_mnist_file(dir.path(), MNIST_IMAGES, Vec::new(), storages.0, |_| images);
        write_mnist_file(dir.path(), MNIST_LABELS, Vec::new(), storages.1, |_| labels);
        check_load(DatasetName::Mnist, Split::Test, dir.path())?;
    }

    #[test]
    fn mnist_reads_damaged_files(
        (height, width) in (1..5_u32, 1..5_u32),
        labels in prop::collection::vec(0..10_u8, 0..4),
        damaged in prop::sample::select(vec![(true, false), (false, true), (true, true)]),
        mutations in mutations(1..4),
        storages in (storage(), storage()),
    ) {
        let count = labels.len() as u32;
        let pixels: Vec<u8> = (0..count * height * width).map(|i| (i * 37) as u8).collect();
        let images = idx(0x803, &[count, height, width], &pixels);
        let mutations = &mutations;
        let damage = |damaged: bool, layout: Layout| {
            move |bytes: Vec<u8>| if damaged { mutate(layout, bytes, mutations) } else { bytes }
        };
        let labels = idx(0x801, &[count], &labels);
        let dir = tempfile::tempdir().unwrap();
        write_mnist_file(dir.path(), MNIST_IMAGES, images, storages.0, damage(damaged.0, Layout::Idx { words: 4 }));
        write_mnist_file(dir.path(), MNIST_LABELS, labels, storages.1, damage(damaged.1, Layout::Idx { words: 2 }));
        check_load(DatasetName::Mnist, Split::Test, dir.path())?;
    }
}

proptest! {
    #![proptest_config(config(IMAGE_CASES))]

    #[test]
    fn image_folders_read_arbitrary_bytes(
        name in prop::sample::select(vec!["a.png", "b.jpg", "c.JPEG"]),
        signed in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        // Half the files start with their format's signature, to reach the
        // headers.
        let signature: &[u8] = match (signed, name) {
            (false, _) => b"",
            (true, "a.png") => b"\x89PNG\r\n\x1a\n",
            (true, _) => b"\xff\xd8\xff",
        };
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("val/n01").join(name), &[signature, &bytes].concat());
        check_load(DatasetName::Imagenette, Split::Test, dir.path())?;
    }

    #[test]
    fn image_folders_read_valid_and_damaged_images(
        png in any::<bool>(),
        kind in any::<u8>(),
        size in image_size(),
        // None: a valid image, thin or grey or 16-bit, must decode.
        mutations in mutations(0..4),
    ) {
        let (format, layout, name) =
            if png { (ImageFormat::Png, Layout::Png, "a.png") } else { (ImageFormat::Jpeg, Layout::Jpeg, "a.jpg") };
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("val/n01").join(name), &mutate(layout, image_file(format, kind, size), &mutations));
        check_load(DatasetName::Imagenet, Split::Test, dir.path())?;
    }

    #[test]
    fn ham10000_reads_arbitrary_bytes(
        rows in ham_rows(),
        csv_like in any::<bool>(),
        csv_rows in CSV_LIKE_ROWS,
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        in_place_of_image in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        write_ham10000(dir.path(), &rows);
        // Either arbitrary bytes, or the columns' names and rows of
        // arbitrary cells made of ids and diagnoses.
        let arbitrary = if csv_like { format!("lesion_id,image_id,dx\n{csv_rows}").into_bytes() } else { bytes };
        let file = if in_place_of_image { "HAM10000_images_part_1/ISIC_0.jpg" } else { "HAM10000_metadata.csv" };
        write(&dir.path().join(file), &arbitrary);
        check_load(DatasetName::Ham10000, Split::Train, dir.path())?;
    }

    #[test]
    fn ham10000_reads_damaged_metadata(rows in ham_rows(), mutations in mutations(1..4)) {
        let dir = tempfile::tempdir().unwrap();
        write_ham10000(dir.path(), &rows);
        let metadata = dir.path().join("HAM10000_metadata.csv");
        write(&metadata, &mutate(Layout::Csv, std::fs::read(&metadata).unwrap(), &mutations));
        check_load(DatasetName::Ham10000, Split::Train, dir.path())?;
    }
}

// Cases the properties found, or that reading the readers did, before the
// readers were fixed.

/// A CIFAR-10 pickle whose integer fields (see [`set_pickle_field`]) are
/// changed in order: `data`'s two dimensions, then the labels.
fn cifar10_pickle_with(labels: &[u8], integers: &[i64]) -> Vec<u8> {
    let mut bytes = python_batch("labels", labels, &pixels(labels.len()));
    let start = after(&bytes, b"(K\x01").unwrap();
    let mut fields = integer_opcodes(&bytes, start);
    fields.extend(integer_opcodes(&bytes, after(&bytes, b"]q\t(").unwrap()));
    // From the last, so that the earlier ranges stay where they are.
    for (field, &value) in fields.iter().zip(integers).rev() {
        bytes.splice(field.clone(), [&[0x8a, 8][..], &value.to_le_bytes()].concat());
    }
    bytes
}

fn cifar10_python_error(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("test_batch"), bytes);
    load(DatasetName::Cifar10, Split::Test, Some(dir.path())).expect_err("should be refused").to_string()
}

#[test]
fn pickled_array_whose_shape_overflows_is_refused() {
    // 2^62 × 2^62 made the check of the array's size overflow: a panic in
    // debug builds.
    let err = cifar10_python_error(&cifar10_pickle_with(&[1], &[1 << 62, 1 << 62]));
    assert!(err.ends_with("test_batch: at byte 0: \"data\" is not a NumPy array of uint8 pixels"), "{err}");
}

#[test]
fn negative_pickled_label_is_named_as_it_is() {
    // It was reported as label 18446744073709551615.
    let err = cifar10_python_error(&cifar10_pickle_with(&[1, 2], &[2, 3072, 4, -1]));
    assert!(err.ends_with("at byte 0: example 1: label -1, expected 0..10"), "{err}");
}

#[test]
fn pickle_copying_a_list_into_itself_is_refused() {
    // Each DUP and APPEND doubled the list: 83 bytes asked for 2^40 values.
    let bytes = [&b"\x80\x02]"[..], &b"2a".repeat(40), b"."].concat();
    let err = cifar10_python_error(&bytes);
    assert!(err.contains("test_batch: at byte 15: copies of 127 values, more than the file's 84 bytes"), "{err}");
}

#[test]
fn pickle_decoding_the_same_text_again_and_again_is_refused() {
    // `_codecs.encode(text, "latin1")` of one stored text, repeated: each
    // five bytes made a new copy of the text.
    let text = "a".repeat(1000);
    let mut bytes = b"\x80\x02c_codecs\nencode\nq\x00X".to_vec();
    bytes.extend((text.len() as u32).to_le_bytes());
    bytes.extend(text.as_bytes());
    bytes.extend(b"U\x06latin1\x86q\x0100");
    bytes.extend(b"h\x00h\x01R".repeat(100));
    let err = cifar10_python_error(&[bytes, b".".to_vec()].concat());
    assert!(err.contains("test_batch: at byte 1047: copies of 2012 values, more than the file's 1539 bytes"), "{err}");
}

#[test]
fn pickle_nested_100_000_deep_is_refused() {
    // 100 000 empty lists, each appended to the one before: dropping them
    // overflowed the stack and aborted the process.
    let depth = 100_000;
    let bytes = [&b"\x80\x02"[..], &b"]".repeat(depth), &b"a".repeat(depth - 1), b"."].concat();
    let err = cifar10_python_error(&bytes);
    // The 64th APPEND would put a list 64 deep into another.
    assert!(err.contains(&format!("test_batch: at byte {}: values nested more than 64 deep", 2 + depth + 63)), "{err}");
}

#[test]
fn image_of_1_by_5000_pixels_is_cut_before_it_is_resized() {
    // Resized whole to 256×1 280 000 pixels (1 GB), it took about a minute
    // in a debug build (and 1×100 000 pixels asked for 20 GB).
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("val/n01/thin.png"), &image_file(ImageFormat::Png, 0, (1, 5000)));
    let started = std::time::Instant::now();
    let val = load(DatasetName::Imagenette, Split::Test, Some(dir.path())).unwrap();
    let image = val.image(0).unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // The one column, stretched: no red, and the same green across a row.
    assert!(image[..224 * 224].iter().all(|&red| red == 0.0));
    assert_eq!(image[224 * 224 + 112 * 224], image[224 * 224 + 112 * 224 + 223]);
}

#[test]
fn empty_jpeg_file_is_refused_on_one_line() {
    // The JPEG decoder's message ends with a line break.
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("val/n01/a.jpg"), b"");
    let val = load(DatasetName::Imagenette, Split::Test, Some(dir.path())).unwrap();
    let err = val.image(0).unwrap_err().to_string();
    let expected = "Format error decoding Jpeg: I/O errors Not enough bytes, expected 2 but found 0";
    assert!(err.ends_with(&format!("a.jpg: cannot decode the image: {expected}")), "{err:?}");
}

#[test]
fn jpeg_whose_header_claims_120_million_pixels_is_refused() {
    // A grey 1×1862 JPEG of 2.5 kB whose frame header says 64525 columns:
    // the decoder made 120 MB of pixels from it (1.5 GB would have been
    // allowed), which took 11 s to resize in a debug build.
    let mut bytes = image_file(ImageFormat::Jpeg, 1, (1, 1862));
    let width = after(&bytes, &[0xff, 0xc0]).unwrap() + 5;
    bytes[width..width + 2].copy_from_slice(&64525_u16.to_be_bytes());
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("val/n01/a.jpg"), &bytes);
    let val = load(DatasetName::Imagenette, Split::Test, Some(dir.path())).unwrap();
    let err = val.image(0).unwrap_err().to_string();
    let (len, limit) = (bytes.len(), bytes.len() * 4096);
    let expected = format!(
        "a.jpg: cannot decode the image: 64525×1862 pixels (120145550 bytes) in a file of {len} bytes, \
         expected at most {limit} bytes"
    );
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn mnist_images_without_pixels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join(MNIST_IMAGES), &idx(0x803, &[2, 0, 3], &[]));
    write(&dir.path().join(MNIST_LABELS), &idx(0x801, &[2], &[1, 2]));
    let err = load(DatasetName::Mnist, Split::Test, Some(dir.path())).expect_err("no pixels").to_string();
    assert!(
        err.ends_with("t10k-images-idx3-ubyte: at byte 8: images of 0×3 pixels, expected at least one pixel"),
        "{err}"
    );
}
