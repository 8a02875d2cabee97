//! Loading every dataset kind from small files made by the tests, and
//! rejecting corrupt ones with the file and offset.

use std::io::Write;
use std::path::Path;

use csrs_data::{DataError, DatasetName, Split, load};

mod fuzz;

pub(crate) fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn error_of(result: csrs_data::Result<csrs_data::Dataset>) -> String {
    result.expect_err("should be rejected").to_string()
}

#[test]
fn embedded_datasets_have_their_documented_splits() {
    for (name, train, test, pixels) in [(DatasetName::Digits, 1297, 500, 64), (DatasetName::Mnist5k, 4000, 1000, 784)] {
        let train_set = load(name, Split::Train, None).unwrap();
        let test_set = load(name, Split::Test, None).unwrap();
        assert_eq!((train_set.len(), test_set.len()), (train, test), "{name}");
        assert_eq!(test_set.shape().len(), pixels);
        assert_eq!(test_set.class_names().len(), 10);
        // Stratified: every class is in the test split in proportion.
        for class in 0..10 {
            let share = test_set.labels().iter().filter(|&&y| y == class).count() as f64 / test as f64;
            assert!((share - 0.1).abs() < 0.02, "{name} class {class}: {share}");
        }
        let image = test_set.image(0).unwrap();
        assert!(image.iter().all(|p| (0.0..=1.0).contains(p)) && image.iter().any(|&p| p > 0.5));
    }
    // The split is the same every time.
    let a = load(DatasetName::Digits, Split::Test, None).unwrap();
    let b = load(DatasetName::Digits, Split::Test, None).unwrap();
    assert_eq!(a.labels(), b.labels());
    assert_eq!(a.image(17).unwrap(), b.image(17).unwrap());
}

#[test]
fn cifar10_binary_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut record = vec![3u8];
    record.extend((0..3072).map(|i| (i % 256) as u8));
    let mut two = record.clone();
    two.extend([5u8].iter().chain(&[255u8; 3072]));
    write(&dir.path().join("test_batch.bin"), &two);
    let test = load(DatasetName::Cifar10, Split::Test, Some(dir.path())).unwrap();
    assert_eq!(test.labels(), &[3, 5]);
    assert_eq!(test.class_names()[3], "cat");
    assert_eq!(test.image(0).unwrap()[255], 1.0);
    assert_eq!(test.image(1).unwrap()[0], 1.0);

    write(&dir.path().join("test_batch.bin"), &two[..3073 + 100]);
    let err = error_of(load(DatasetName::Cifar10, Split::Test, Some(dir.path())));
    assert!(
        err.ends_with("test_batch.bin: at byte 3073: truncated record (100 bytes), expected 3073 bytes per record"),
        "{err}"
    );

    let mut bad_label = record;
    bad_label[0] = 10;
    write(&dir.path().join("test_batch.bin"), &bad_label);
    let err = error_of(load(DatasetName::Cifar10, Split::Test, Some(dir.path())));
    assert!(err.ends_with("at byte 0: label 10, expected 0..10"), "{err}");

    let err = error_of(load(DatasetName::Cifar10, Split::Train, Some(dir.path())));
    assert!(err.contains("data_batch_1.bin"), "{err}");
}

/// A CIFAR batch pickled the way the Python version on the CIFAR site is:
/// Python 2's protocol 2, byte-string keys, the pixels a NumPy `uint8`
/// array of shape `[n, 3072]` and the labels a list.
pub(crate) fn python_batch(label_key: &str, labels: &[u8], pixels: &[u8]) -> Vec<u8> {
    let short = |p: &mut Vec<u8>, text: &[u8]| {
        p.extend([b'U', text.len() as u8]);
        p.extend(text);
    };
    let mut p = vec![0x80, 2, b'}', b'q', 1, b'('];
    short(&mut p, b"batch_label");
    short(&mut p, b"testing batch 1 of 1");
    short(&mut p, b"data");
    p.extend(b"cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85q\x04U\x01b\x87Rq\x05(K\x01");
    p.push(b'M');
    p.extend((labels.len() as u16).to_le_bytes());
    p.push(b'M');
    p.extend(3072u16.to_le_bytes());
    p.extend(b"\x86cnumpy\ndtype\nq\x06U\x02u1K\x00K\x01\x87Rq\x07(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T");
    p.extend((pixels.len() as u32).to_le_bytes());
    p.extend(pixels);
    p.extend(b"tbq\x08");
    short(&mut p, label_key.as_bytes());
    p.extend(b"]q\t(");
    for &label in labels {
        p.extend([b'K', label]);
    }
    p.extend(b"eu.");
    p
}

/// Pixels that differ between images and channels.
pub(crate) fn pixels(n: usize) -> Vec<u8> {
    (0..n * 3072).map(|i| ((i * 7 + i / 3072) % 256) as u8).collect()
}

#[test]
fn cifar_python_versions_in_torchvisions_folders() {
    let root = tempfile::tempdir().unwrap();
    let images = pixels(3);
    write(&root.path().join("cifar-10-batches-py/test_batch"), &python_batch("labels", &[3, 0, 9], &images));
    let test = load(DatasetName::Cifar10, Split::Test, Some(root.path())).unwrap();
    assert_eq!(test.labels(), &[3, 0, 9]);
    assert_eq!(test.class_names()[9], "truck");
    for i in 0..3 {
        let expected: Vec<f32> = images[i * 3072..(i + 1) * 3072].iter().map(|&p| f32::from(p) / 255.0).collect();
        assert_eq!(test.image(i).unwrap(), expected, "image {i}");
    }
    // The folder itself works as well as the one above it.
    let same = load(DatasetName::Cifar10, Split::Test, Some(&root.path().join("cifar-10-batches-py"))).unwrap();
    assert_eq!(same.labels(), test.labels());

    write(&root.path().join("cifar-100-python/test"), &python_batch("fine_labels", &[99, 42], &pixels(2)));
    let test = load(DatasetName::Cifar100, Split::Test, Some(root.path())).unwrap();
    assert_eq!((test.labels(), test.n_classes()), (&[99, 42][..], 100));
    assert_eq!((test.class_names()[0].as_str(), test.class_names()[99].as_str()), ("apple", "worm"));

    // Broken pickles: cut short, labels out of range, no pixels.
    let whole = python_batch("labels", &[1, 2], &pixels(2));
    write(&root.path().join("cifar-10-batches-py/test_batch"), &whole[..whole.len() / 2]);
    let err = error_of(load(DatasetName::Cifar10, Split::Test, Some(root.path())));
    assert!(err.ends_with("test_batch: at byte 180: the file ends inside a pickle (wanted 6144 more bytes)"), "{err}");
    write(&root.path().join("cifar-10-batches-py/test_batch"), &python_batch("labels", &[1, 12], &pixels(2)));
    let err = error_of(load(DatasetName::Cifar10, Split::Test, Some(root.path())));
    assert!(err.ends_with("test_batch: at byte 0: example 1: label 12, expected 0..10"), "{err}");
    write(&root.path().join("cifar-10-batches-py/test_batch"), &python_batch("fine_labels", &[1], &pixels(1)));
    let err = error_of(load(DatasetName::Cifar10, Split::Test, Some(root.path())));
    assert!(err.ends_with("no \"labels\" list of integers"), "{err}");
}

#[test]
fn cifar_binary_versions_in_their_folders_and_what_is_missing() {
    let root = tempfile::tempdir().unwrap();
    let mut records = Vec::new();
    for (coarse, fine) in [(4u8, 30u8), (0, 7)] {
        records.extend([coarse, fine]);
        records.extend(pixels(1));
    }
    write(&root.path().join("cifar-100-binary/test.bin"), &records);
    let test = load(DatasetName::Cifar100, Split::Test, Some(root.path())).unwrap();
    assert_eq!(test.labels(), &[30, 7], "the fine labels");

    let err = error_of(load(DatasetName::Cifar10, Split::Test, Some(root.path())));
    assert!(
        err.ends_with(
            "no cifar10 here: expected test_batch.bin (binary version) or test_batch (Python version), \
             in this folder or in cifar-10-batches-bin/ or cifar-10-batches-py/"
        ),
        "{err}"
    );
    let err = error_of(load(DatasetName::Cifar100, Split::Train, Some(root.path())));
    assert!(err.contains("expected train.bin (binary version) or train (Python version)"), "{err}");
}

pub(crate) fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(body);
    bytes
}

#[test]
fn mnist_idx_files_plain_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..2 * 4 * 3).map(|i| (i * 10) as u8).collect();
    write(&dir.path().join("t10k-images-idx3-ubyte"), &idx(0x803, &[2, 4, 3], &pixels));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&idx(0x801, &[2], &[7, 1])).unwrap();
    write(&dir.path().join("t10k-labels-idx1-ubyte.gz"), &gz.finish().unwrap());
    let test = load(DatasetName::Mnist, Split::Test, Some(dir.path())).unwrap();
    assert_eq!(test.labels(), &[7, 1]);
    assert_eq!(test.shape().len(), 12);
    assert_eq!(test.image(1).unwrap()[0], 120.0 / 255.0);

    write(&dir.path().join("t10k-images-idx3-ubyte"), &idx(0x803, &[2, 4, 3], &pixels[..20]));
    let err = error_of(load(DatasetName::Mnist, Split::Test, Some(dir.path())));
    assert!(
        err.ends_with("t10k-images-idx3-ubyte: at byte 36: file is truncated: 20 bytes of data, expected 24"),
        "{err}"
    );

    // Dimensions that announce fewer pixels than the file holds.
    write(&dir.path().join("t10k-images-idx3-ubyte"), &idx(0x803, &[2, 4, 2], &pixels));
    let err = error_of(load(DatasetName::Mnist, Split::Test, Some(dir.path())));
    assert!(
        err.ends_with("at byte 32: 8 bytes after the data the header announces, expected the file to end"),
        "{err}"
    );

    // Dimensions whose product overflows, or is merely huge: corruption.
    write(&dir.path().join("t10k-images-idx3-ubyte"), &idx(0x803, &[2, u32::MAX, u32::MAX], &pixels));
    let err = error_of(load(DatasetName::Mnist, Split::Test, Some(dir.path())));
    assert!(err.contains("at byte 4: 2×4294967295×4294967295 images, more values than memory holds"), "{err}");
    write(&dir.path().join("t10k-images-idx3-ubyte"), &idx(0x803, &[2, 65_536, 65_536], &pixels));
    let err = error_of(load(DatasetName::Mnist, Split::Test, Some(dir.path())));
    assert!(err.contains("file is truncated: 24 bytes of data, expected 8589934592"), "{err}");

    write(&dir.path().join("t10k-images-idx3-ubyte"), &idx(0x802, &[2, 4, 3], &pixels));
    let err = error_of(load(DatasetName::Mnist, Split::Test, Some(dir.path())));
    assert!(err.ends_with("at byte 0: magic number 0x00000802, expected 0x00000803"), "{err}");
}

fn png(path: &Path, colour: [u8; 3], size: (u32, u32)) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(size.0, size.1, image::Rgb(colour)).save(path).unwrap();
}

#[test]
fn image_folders_resize_and_crop_to_224() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("val/n01/a.png"), [255, 0, 0], (300, 260));
    png(&dir.path().join("val/n02/b.png"), [0, 0, 255], (40, 64));
    std::fs::write(dir.path().join("val/n02/notes.txt"), "not an image").unwrap();
    let val = load(DatasetName::Imagenette, Split::Test, Some(dir.path())).unwrap();
    assert_eq!(val.class_names(), ["n01", "n02"]);
    assert_eq!(val.labels(), &[0, 1]);
    let image = val.image(1).unwrap();
    assert_eq!(image.len(), 3 * 224 * 224);
    assert_eq!((image[0], image[224 * 224], image[2 * 224 * 224]), (0.0, 0.0, 1.0));

    std::fs::write(dir.path().join("val/n01/a.png"), b"not a png").unwrap();
    let err = load(DatasetName::Imagenette, Split::Test, Some(dir.path())).unwrap().image(0).unwrap_err().to_string();
    assert!(err.contains("a.png: cannot decode the image"), "{err}");
    assert!(matches!(load(DatasetName::Imagenet, Split::Train, Some(dir.path())), Err(DataError::Io { .. })));
}

#[test]
fn imagenet_validation_in_imagefolder_layout() {
    // torchvision's ImageFolder: one folder per WordNet id, classes sorted
    // by name, JPEG files named .JPEG as in the ImageNet archives.
    let dir = tempfile::tempdir().unwrap();
    for (wnid, shade) in [("n04592741", 200u8), ("n01440764", 50), ("n02102040", 120)] {
        let path = dir.path().join(format!("val/{wnid}/ILSVRC2012_val_{shade:08}.JPEG"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // 512x256: the shorter side is already 256, so the 224 crop takes
        // columns 144..368 and rows 16..240 of a horizontal ramp.
        let ramp = image::RgbImage::from_fn(512, 256, |x, _| image::Rgb([(x / 2) as u8, shade, 0]));
        ramp.save(&path).unwrap();
    }
    let val = load(DatasetName::Imagenet, Split::Test, Some(dir.path())).unwrap();
    assert_eq!(val.class_names(), ["n01440764", "n02102040", "n04592741"]);
    assert_eq!(val.labels(), &[0, 1, 2]);
    let image = val.image(2).unwrap();
    let close = |value: f32, expected: f32| (value - expected / 255.0).abs() < 4.0 / 255.0;
    assert!(close(image[0], 72.0), "red at crop column 0 is x = 144: {}", image[0] * 255.0);
    assert!(close(image[223], 183.5), "red at crop column 223 is x = 367: {}", image[223] * 255.0);
    assert!(close(image[224 * 224 + 5], 200.0), "green is the class's shade: {}", image[224 * 224 + 5] * 255.0);
}

#[test]
fn ham10000_keeps_lesions_on_one_side() {
    let dir = tempfile::tempdir().unwrap();
    let mut metadata = String::from("lesion_id,image_id,dx,dx_type,age,sex,localization\n");
    for i in 0..20 {
        let dx = ["mel", "nv"][i % 2];
        for j in 0..2 {
            metadata.push_str(&format!("HAM_{i},ISIC_{i}_{j},{dx},histo,50,male,back\n"));
            png(&dir.path().join(format!("HAM10000_images_part_{}/ISIC_{i}_{j}.jpg", 1 + j)), [9, 9, 9], (8, 8));
        }
    }
    write(&dir.path().join("HAM10000_metadata.csv"), metadata.as_bytes());
    let train = load(DatasetName::Ham10000, Split::Train, Some(dir.path())).unwrap();
    let test = load(DatasetName::Ham10000, Split::Test, Some(dir.path())).unwrap();
    assert_eq!((train.len(), test.len()), (32, 8));
    assert_eq!(test.class_names()[4], "mel");
    assert_eq!(test.labels().iter().filter(|&&y| y == 4).count(), 4);

    write(&dir.path().join("HAM10000_metadata.csv"), b"lesion_id,image_id,dx\nHAM_0,ISIC_0_0,wart\n");
    let err = error_of(load(DatasetName::Ham10000, Split::Test, Some(dir.path())));
    assert!(
        err.ends_with(
            "HAM10000_metadata.csv: line 2: diagnosis \"wart\", expected one of akiec, bcc, bkl, df, mel, nv, vasc"
        ),
        "{err}"
    );

    let conflicting = "lesion_id,image_id,dx\nHAM_0,ISIC_0_0,mel\nHAM_0,ISIC_0_1,nv\n";
    write(&dir.path().join("HAM10000_metadata.csv"), conflicting.as_bytes());
    let err = error_of(load(DatasetName::Ham10000, Split::Test, Some(dir.path())));
    assert!(err.ends_with("line 3: lesion HAM_0 is diagnosed nv here and mel on an earlier line"), "{err}");
}

#[test]
fn folder_datasets_need_a_folder_and_names_are_checked() {
    let err = error_of(load(DatasetName::Cifar10, Split::Test, None));
    assert_eq!(err, "dataset cifar10 is read from a folder: pass its location as data_dir");
    assert!("cifar-100".parse::<DatasetName>().unwrap_err().to_string().starts_with("unknown dataset \"cifar-100\""));
    assert_eq!("mnist-5k".parse::<DatasetName>().unwrap(), DatasetName::Mnist5k);
}

/// gzip files of several members, as `cat a.gz b.gz` and pigz write them:
/// read whole, as gunzip reads them.
#[test]
fn mnist_gzip_files_of_several_members_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let gzip = |bytes: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    };
    let pixels: Vec<u8> = (0..3 * 4 * 3).map(|i| (i * 7) as u8).collect();
    let images = idx(0x803, &[3, 4, 3], &pixels);
    let labels = idx(0x801, &[3], &[7, 1, 4]);
    // Two members for the images, three for the labels (one of them empty).
    let (head, tail) = images.split_at(20);
    write(&dir.path().join("t10k-images-idx3-ubyte.gz"), &[gzip(head), gzip(tail)].concat());
    let (head, tail) = labels.split_at(9);
    write(&dir.path().join("t10k-labels-idx1-ubyte.gz"), &[gzip(head), gzip(b""), gzip(tail)].concat());
    let test = load(DatasetName::Mnist, Split::Test, Some(dir.path())).unwrap();
    assert_eq!(test.labels(), &[7, 1, 4]);
    assert_eq!(test.image(2).unwrap()[11], f32::from(35u8 * 7) / 255.0);
}
