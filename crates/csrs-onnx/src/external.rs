//! Weights stored beside the model (`save_as_external_data`), read by csrs
//! itself.
//!
//! A tensor's `location` comes from the file, and a file can come from
//! anyone: csrs never hands the parser a path. It resolves every location
//! against the model file's canonical folder, refuses what could read
//! anything else (an absolute location, `..`, a symbolic link leading out of
//! the folder, a FIFO, a device or a folder), checks the declared offset and
//! length against the file's real size and [`MAX_FILE_BYTES`] before
//! allocating, and copies the bytes into the model, which the parser then
//! reads from memory alone.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Component, Path, PathBuf};

use onnx_ir::{GraphProto, ModelProto, TensorProto};

use crate::file::open_regular;
use crate::{MAX_FILE_BYTES, shown};

/// Copies the values of every tensor stored beside the model into it, from
/// files inside `folder` (the model file's canonical folder), and returns
/// how many there were; `embedded` is the size of the model file, counted
/// against [`MAX_FILE_BYTES`] with them.
pub(crate) fn inline(model: &mut ModelProto, folder: &Path, embedded: u64) -> Result<usize, String> {
    let (mut total, mut inlined) = (embedded, 0);
    visit(model.graph.mut_or_insert_default(), &mut |tensor| {
        if !is_external(tensor) {
            return Ok(());
        }
        let values = read_values(tensor, folder, &mut total)
            .map_err(|why| format!("tensor {}: external data {why}", shown(&tensor.name)))?;
        tensor.raw_data = values.into();
        tensor.external_data.clear();
        tensor.data_location = Default::default();
        inlined += 1;
        Ok(())
    })?;
    Ok(inlined)
}

fn is_external(tensor: &TensorProto) -> bool {
    // EXTERNAL is 1; the parser reads a tensor as external by its location.
    tensor.data_location.value() == 1 || !tensor.external_data.is_empty()
}

/// The bytes of one external tensor; `total` counts the bytes of the model
/// so far, and grows by these.
fn read_values(tensor: &TensorProto, folder: &Path, total: &mut u64) -> Result<Vec<u8>, String> {
    let entry = |key: &str| tensor.external_data.iter().find(|e| e.key == key).map(|e| e.value.as_str());
    let location = entry("location").ok_or("without a location")?;
    let path = resolve(folder, location).map_err(|why| format!("{}: {why}", shown(location)))?;
    let number = |key: &str| -> Result<Option<u64>, String> {
        entry(key)
            .map(|text| text.parse::<u64>().map_err(|_| format!("{key} {}, expected a number of bytes", shown(text))))
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let needed = byte_len(tensor)?;
    if let Some(length) = number("length")?
        && length != needed
    {
        return Err(format!("{}: length {length}, but the tensor's shape takes {needed} bytes", shown(location)));
    }
    *total = total.checked_add(needed).filter(|&t| t <= MAX_FILE_BYTES).ok_or_else(|| {
        format!(
            "{}: {needed} bytes, past the limit of {MAX_FILE_BYTES} bytes for a model with its data",
            shown(location)
        )
    })?;
    let (mut file, size) = open_regular(&path).map_err(|why| format!("{}: {why}", shown(location)))?;
    if offset.checked_add(needed).is_none_or(|end| end > size) {
        return Err(format!(
            "{}: {needed} bytes from offset {offset}, past the end of the file ({size} bytes)",
            shown(location)
        ));
    }
    // Bounded by the checks above: at most MAX_FILE_BYTES in all.
    let mut values = vec![0; usize::try_from(needed).map_err(|_| "too large for this machine")?];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut values))
        .map_err(|err| format!("{}: cannot read: {err}", shown(location)))?;
    Ok(values)
}

/// The path of `location` inside `folder`, or why it is not allowed.
fn resolve(folder: &Path, location: &str) -> Result<PathBuf, String> {
    if location.is_empty() || location.contains('\0') {
        return Err("not a file name".into());
    }
    for component in Path::new(location).components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err("'..' leads out of the model's folder".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute location; expected a file in the model's folder".into());
            }
        }
    }
    let path = folder.join(location);
    let real = std::fs::canonicalize(&path).map_err(|err| format!("cannot read: {err}"))?;
    if !real.starts_with(folder) {
        return Err("a symbolic link leading out of the model's folder".into());
    }
    Ok(real)
}

/// The bytes a tensor's shape and type take.
fn byte_len(tensor: &TensorProto) -> Result<u64, String> {
    // The element sizes of TensorProto.DataType, by its numbers.
    let size: u64 = match tensor.data_type {
        2 | 3 | 9 => 1,       // uint8, int8, bool
        4 | 5 | 10 | 16 => 2, // uint16, int16, float16, bfloat16
        1 | 6 | 12 => 4,      // float, int32, uint32
        7 | 11 | 13 => 8,     // int64, double, uint64
        other => return Err(format!("of element type {other}; supported: numbers of 1 to 8 bytes")),
    };
    tensor
        .dims
        .iter()
        .try_fold(size, |n, &d| u64::try_from(d).ok().and_then(|d| n.checked_mul(d)))
        .ok_or_else(|| format!("of shape {:?}, expected sides from 0 up that fit in memory", tensor.dims))
}

/// Calls `each` on every dense tensor of `graph` (the weights and the
/// nodes' constants), stopping at the first error. A graph's subgraphs are
/// refused before ([`crate::structure`]), and a sparse tensor stored
/// elsewhere reaches the parser as it is, which refuses it, holding no path.
fn visit(graph: &mut GraphProto, each: &mut impl FnMut(&mut TensorProto) -> Result<(), String>) -> Result<(), String> {
    graph.initializer.iter_mut().try_for_each(&mut *each)?;
    for attribute in graph.node.iter_mut().flat_map(|node| &mut node.attribute) {
        attribute.t.as_mut().map_or(Ok(()), &mut *each)?;
        attribute.tensors.iter_mut().try_for_each(&mut *each)?;
    }
    Ok(())
}
