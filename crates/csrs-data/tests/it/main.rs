//! Loading every dataset kind from small files made by the tests, and
//! rejecting corrupt ones with the file and offset.

use std::io::Write;
use std::path::Path;

use csrs_data::{DataError, DatasetName, Split, load};

fn write(path: &Path, bytes: &[u8]) {
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

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
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
}

#[test]
fn folder_datasets_need_a_folder_and_names_are_checked() {
    let err = error_of(load(DatasetName::Cifar10, Split::Test, None));
    assert_eq!(err, "dataset cifar10 is read from a folder: pass its location with --data-dir");
    assert!("cifar-100".parse::<DatasetName>().unwrap_err().to_string().starts_with("unknown dataset \"cifar-100\""));
    assert_eq!("mnist-5k".parse::<DatasetName>().unwrap(), DatasetName::Mnist5k);
}
