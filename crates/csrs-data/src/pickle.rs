//! The part of Python's pickle format that datasets saved with NumPy use:
//! dictionaries, lists, numbers, strings, and NumPy arrays (a `GLOBAL` of
//! `_reconstruct`, a `REDUCE` and a `BUILD` with the raw bytes).
//!
//! It builds a tree of [`Value`]s and calls nothing: `GLOBAL`, `REDUCE` and
//! `BUILD` are recorded, not executed, so a pickle cannot run code here.
//! PyTorch checkpoints are not read with this: they go through burn-store's
//! reader in csrs-models.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use crate::{DataError, Result};

/// A pickled object, as a tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A byte string (Python 2 `str`, Python 3 `bytes`) or text, as bytes;
    /// shared, because arrays' data can be tens of megabytes.
    Bytes(Rc<[u8]>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A reference to `module.name`; shared, like byte strings, since
    /// `STACK_GLOBAL` takes them from strings that GET can repeat.
    Global {
        module: Rc<[u8]>,
        name: Rc<[u8]>,
    },
    /// `callable(*args)`, not called.
    Reduce(Box<Value>, Box<Value>),
    /// `object.__setstate__(state)`, not called.
    Build(Box<Value>, Box<Value>),
    /// The stack marker of `MARK`.
    Mark,
}

impl Value {
    /// The entry of a dictionary under a text or bytes key.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::Bytes(bytes) if &**bytes == key.as_bytes()))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A NumPy array of unsigned bytes (`dtype('uint8')`), C order: its
    /// shape and data. Protocols up to 4 pickle an array as `_reconstruct`
    /// followed by a `BUILD` with (version, shape, dtype, is_fortran, data);
    /// protocol 5 as `_frombuffer(data, dtype, shape, order)`.
    pub(crate) fn u8_array(&self) -> Option<(Vec<usize>, Rc<[u8]>)> {
        let (shape, dtype, data) = match self {
            Value::Build(array, state) => {
                let Value::Reduce(callable, _) = &**array else { return None };
                if !callable.is_global("_reconstruct") {
                    return None;
                }
                let Value::Tuple(state) = &**state else { return None };
                let [_, shape, dtype, Value::Bool(false), Value::Bytes(data)] = state.as_slice() else { return None };
                (shape, dtype, data)
            }
            Value::Reduce(callable, args) if callable.is_global("_frombuffer") => {
                let Value::Tuple(args) = &**args else { return None };
                let [Value::Bytes(data), dtype, shape, Value::Bytes(order)] = args.as_slice() else { return None };
                if &**order != b"C" {
                    return None;
                }
                (shape, dtype, data)
            }
            _ => return None,
        };
        let Value::Tuple(shape) = shape else { return None };
        let shape = shape.iter().map(|d| if let Value::Int(d) = d { usize::try_from(*d).ok() } else { None });
        let shape = shape.collect::<Option<Vec<usize>>>()?;
        let len = shape.iter().try_fold(1_usize, |len, &d| len.checked_mul(d));
        (dtype.dtype_name()? == b"u1" && len == Some(data.len())).then(|| (shape, data.clone()))
    }

    fn is_global(&self, wanted: &str) -> bool {
        matches!(self, Value::Global { name, .. } if **name == *wanted.as_bytes())
    }

    /// How many values the tree holds, itself included, and how deep they
    /// nest (1 for a value that holds none).
    fn extent(&self) -> (usize, usize) {
        let children: Vec<&Value> = match self {
            Value::List(items) | Value::Tuple(items) => items.iter().collect(),
            Value::Dict(entries) => entries.iter().flat_map(|(key, value)| [key, value]).collect(),
            Value::Reduce(a, b) | Value::Build(a, b) => vec![a, b],
            _ => Vec::new(),
        };
        children.into_iter().map(Value::extent).fold((1, 1), |(values, depth), (v, d)| (values + v, depth.max(d + 1)))
    }

    /// The type code of a pickled `numpy.dtype`, e.g. `u1`.
    fn dtype_name(&self) -> Option<&[u8]> {
        let Value::Build(dtype, _) = self else { return None };
        let Value::Reduce(_, args) = &**dtype else { return None };
        match &**args {
            Value::Tuple(args) => match args.first() {
                Some(Value::Bytes(name)) => Some(name),
                _ => None,
            },
            _ => None,
        }
    }

    /// A list of integers, e.g. labels.
    pub(crate) fn int_list(&self) -> Option<Vec<i64>> {
        match self {
            Value::List(items) => items.iter().map(|v| if let Value::Int(i) = v { Some(*i) } else { None }).collect(),
            _ => None,
        }
    }
}

/// How deeply values may nest. NumPy data needs a handful of levels; copying
/// and dropping a tree recurse once per level, and two bytes per level
/// (`]]]…aaa`) would otherwise overflow the stack.
const MAX_DEPTH: usize = 64;

/// Reads one pickle from `bytes`; `path` names the file in errors.
///
/// # Errors
/// [`DataError::Corrupt`] with the byte offset of the first opcode it
/// cannot read.
pub(crate) fn read(path: &Path, bytes: &[u8]) -> Result<Value> {
    Reader { path, bytes, at: 0, stack: Vec::new(), memo: HashMap::new(), copied: Cell::new(0) }.run()
}

/// `callable(*args)`, recorded; except Python 3's way of pickling `bytes`
/// in protocols 2 and lower, `_codecs.encode(text, "latin1")`, which is
/// turned back into the bytes.
fn reduce(callable: Value, args: Value) -> Value {
    if callable.is_global("encode")
        && let Value::Tuple(items) = &args
        && let [Value::Bytes(text), Value::Bytes(encoding)] = items.as_slice()
        && &**encoding == b"latin1"
        && let Ok(text) = std::str::from_utf8(text)
        && let Some(bytes) = text.chars().map(|c| u8::try_from(c).ok()).collect::<Option<Vec<u8>>>()
    {
        return Value::Bytes(bytes.into());
    }
    Value::Reduce(Box::new(callable), Box::new(args))
}

struct Reader<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    at: usize,
    stack: Vec<Value>,
    /// Stored values by memo index; a map, since a file names any index
    /// (a vector as long as the largest would let a few bytes claim all memory).
    memo: HashMap<usize, Value>,
    /// Values copied by PUT, GET and DUP, and bytes decoded from text, so
    /// far. They may not outnumber the bytes of the file: unbounded,
    /// `]2a2a2a…` (a list appended with a copy of itself) would double the
    /// list every two bytes.
    copied: Cell<usize>,
}

impl Reader<'_> {
    fn run(mut self) -> Result<Value> {
        loop {
            let offset = self.at;
            let op = self.take(1)?[0];
            match op {
                0x80 => drop(self.take(1)?),                 // PROTO
                0x95 => drop(self.take(8)?),                 // FRAME
                b'.' => return self.pop(offset),             // STOP
                b'(' => self.stack.push(Value::Mark),        // MARK
                b'N' => self.stack.push(Value::None),        // NONE
                0x88 => self.stack.push(Value::Bool(true)),  // NEWTRUE
                0x89 => self.stack.push(Value::Bool(false)), // NEWFALSE
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b'K' => {
                    let v = self.take(1)?[0];
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.array()?);
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.array()?);
                    self.stack.push(Value::Int(i64::from(v)));
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes.
                    let n = usize::from(self.take(1)?[0]);
                    let digits = self.take(n)?;
                    if n > 8 {
                        return Err(self.corrupt(offset, format!("an integer of {n} bytes, expected at most 8")));
                    }
                    let negative = digits.last().is_some_and(|&b| b & 0x80 != 0);
                    let mut le = [if negative { 0xff } else { 0 }; 8];
                    le[..n].copy_from_slice(digits);
                    self.stack.push(Value::Int(i64::from_le_bytes(le)));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.array()?);
                    self.stack.push(Value::Float(v));
                }
                b'I' | b'L' => {
                    let text = String::from_utf8_lossy(self.line()?).into_owned();
                    let text = text.trim_end_matches('L');
                    let value = match text {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        _ => Value::Int(text.parse().map_err(|_| self.corrupt(offset, format!("integer {text:?}")))?),
                    };
                    self.stack.push(value);
                }
                b'U' | b'C' | 0x8c => {
                    let n = usize::from(self.take(1)?[0]);
                    self.push_bytes(n)?;
                }
                b'T' | b'B' | b'X' => {
                    let n = u32::from_le_bytes(self.array()?) as usize;
                    self.push_bytes(n)?;
                }
                0x8d | 0x8e | 0x96 => {
                    let n = u64::from_le_bytes(self.array()?);
                    let n =
                        usize::try_from(n).map_err(|_| self.corrupt(offset, "a string longer than memory".into()))?;
                    self.push_bytes(n)?;
                }
                b't' => {
                    let items = self.pop_mark(offset)?;
                    self.nest(offset, Value::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(self.corrupt(offset, "a tuple of more items than the stack holds".into()));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.nest(offset, Value::Tuple(items))?;
                }
                b'a' => {
                    let item = self.pop(offset)?;
                    self.extend(offset, vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark(offset)?;
                    self.extend(offset, items)?;
                }
                b's' => {
                    let value = self.pop(offset)?;
                    let key = self.pop(offset)?;
                    self.extend(offset, vec![key, value])?;
                }
                b'u' => {
                    let items = self.pop_mark(offset)?;
                    self.extend(offset, items)?;
                }
                b'q' => {
                    let index = usize::from(self.take(1)?[0]);
                    self.put(offset, index)?;
                }
                b'r' => {
                    let index = u32::from_le_bytes(self.array()?) as usize;
                    self.put(offset, index)?;
                }
                0x94 => {
                    let index = self.memo.len();
                    self.put(offset, index)?;
                }
                b'h' => {
                    let index = usize::from(self.take(1)?[0]);
                    self.get(offset, index)?;
                }
                b'j' => {
                    let index = u32::from_le_bytes(self.array()?) as usize;
                    self.get(offset, index)?;
                }
                b'p' | b'g' => {
                    let index = String::from_utf8_lossy(self.line()?)
                        .parse()
                        .map_err(|_| self.corrupt(offset, "a memo index that is not a number".into()))?;
                    if op == b'p' { self.put(offset, index)? } else { self.get(offset, index)? }
                }
                b'c' => {
                    let module = self.line()?.into();
                    let name = self.line()?.into();
                    self.stack.push(Value::Global { module, name });
                }
                0x93 => {
                    let name = self.pop(offset)?;
                    let module = self.pop(offset)?;
                    let text = |v: Value| match v {
                        Value::Bytes(b) => Some(b),
                        _ => None,
                    };
                    let (Some(module), Some(name)) = (text(module), text(name)) else {
                        return Err(self.corrupt(offset, "STACK_GLOBAL of something other than strings".into()));
                    };
                    self.stack.push(Value::Global { module, name });
                }
                b'R' | 0x81 => {
                    let args = self.pop(offset)?;
                    let callable = self.pop(offset)?;
                    let value = reduce(callable, args);
                    if let Value::Bytes(decoded) = &value {
                        // Text decoded to new bytes, which GET can ask for again and again.
                        self.charge(offset, decoded.len())?;
                    }
                    self.nest(offset, value)?;
                }
                b'b' => {
                    let state = self.pop(offset)?;
                    let object = self.pop(offset)?;
                    self.nest(offset, Value::Build(Box::new(object), Box::new(state)))?;
                }
                b'0' => drop(self.pop(offset)?),
                b'1' => drop(self.pop_mark(offset)?),
                b'2' => {
                    let top = self.stack.last().ok_or_else(|| self.corrupt(offset, "DUP of an empty stack".into()))?;
                    let copy = self.copy(offset, top)?;
                    self.stack.push(copy);
                }
                _ => {
                    return Err(
                        self.corrupt(offset, format!("pickle opcode 0x{op:02x}, which NumPy data pickles do not use"))
                    );
                }
            }
        }
    }

    fn corrupt(&self, offset: usize, message: String) -> DataError {
        DataError::corrupt(self.path, offset as u64, message)
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let start = self.at;
        let end = start.checked_add(n).filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.corrupt(start, format!("the file ends inside a pickle (wanted {n} more bytes)")));
        };
        self.at = end;
        Ok(&self.bytes[start..end])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn line(&mut self) -> Result<&[u8]> {
        let start = self.at;
        let Some(length) = self.bytes[start..].iter().position(|&b| b == b'\n') else {
            return Err(self.corrupt(start, "the file ends inside a line".into()));
        };
        self.at = start + length + 1;
        Ok(&self.bytes[start..start + length])
    }

    fn push_bytes(&mut self, n: usize) -> Result<()> {
        let bytes: Rc<[u8]> = self.take(n)?.into();
        self.stack.push(Value::Bytes(bytes));
        Ok(())
    }

    fn pop(&mut self, offset: usize) -> Result<Value> {
        match self.stack.pop() {
            Some(Value::Mark) | None => {
                Err(self.corrupt(offset, "an opcode that needs a value the stack lacks".into()))
            }
            Some(value) => Ok(value),
        }
    }

    fn pop_mark(&mut self, offset: usize) -> Result<Vec<Value>> {
        let Some(mark) = self.stack.iter().rposition(|v| *v == Value::Mark) else {
            return Err(self.corrupt(offset, "an opcode that needs a MARK the stack lacks".into()));
        };
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    /// Appends items to the list, or key-value pairs to the dictionary, on
    /// top of the stack.
    fn extend(&mut self, offset: usize, items: Vec<Value>) -> Result<()> {
        if items.iter().any(|item| item.extent().1 >= MAX_DEPTH) {
            return Err(self.too_deep(offset));
        }
        match self.stack.last_mut() {
            Some(Value::List(list)) => list.extend(items),
            Some(Value::Dict(entries)) if items.len().is_multiple_of(2) => {
                let mut items = items.into_iter();
                while let (Some(key), Some(value)) = (items.next(), items.next()) {
                    entries.push((key, value));
                }
            }
            _ => return Err(self.corrupt(offset, "items added to something that is not a list or dictionary".into())),
        }
        Ok(())
    }

    fn put(&mut self, offset: usize, index: usize) -> Result<()> {
        let top = self.stack.last().ok_or_else(|| self.corrupt(offset, "PUT of an empty stack".into()))?;
        let copy = self.copy(offset, top)?;
        self.memo.insert(index, copy);
        Ok(())
    }

    fn get(&mut self, offset: usize, index: usize) -> Result<()> {
        let value = self.memo.get(&index);
        let value = value.ok_or_else(|| self.corrupt(offset, format!("memo entry {index}, which was never stored")))?;
        let copy = self.copy(offset, value)?;
        self.stack.push(copy);
        Ok(())
    }

    /// Pushes a value made of others, if it nests no deeper than allowed.
    fn nest(&mut self, offset: usize, value: Value) -> Result<()> {
        if value.extent().1 > MAX_DEPTH {
            return Err(self.too_deep(offset));
        }
        self.stack.push(value);
        Ok(())
    }

    fn too_deep(&self, offset: usize) -> DataError {
        self.corrupt(offset, format!("values nested more than {MAX_DEPTH} deep, which NumPy data pickles never are"))
    }

    /// A copy of `value`, charged to the file's budget of copies.
    fn copy(&self, offset: usize, value: &Value) -> Result<Value> {
        self.charge(offset, value.extent().0)?;
        Ok(value.clone())
    }

    fn charge(&self, offset: usize, values: usize) -> Result<()> {
        let copied = self.copied.get().saturating_add(values);
        if copied > self.bytes.len() {
            let message = format!(
                "copies of {copied} values, more than the file's {} bytes (NumPy data pickles copy far fewer)",
                self.bytes.len()
            );
            return Err(self.corrupt(offset, message));
        }
        self.copied.set(copied);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::rc::Rc;

    use super::{Value, read};

    #[test]
    fn stack_global_shares_the_strings_it_names() {
        // It made its own copies: a long string stored once and named by
        // STACK_GLOBAL again and again (`h\x00h\x00\x93`, five bytes) asked
        // for two copies of the string each time.
        let value = read(Path::new("f.pkl"), b"\x80\x04\x8c\x06module\x94h\x00h\x00\x93.").unwrap();
        let Value::Global { module, name } = value else { panic!("{value:?}") };
        assert!(Rc::ptr_eq(&module, &name));
    }
}

/// Byte strings made of the opcodes the reader knows (and a few it does
/// not) with small arguments: never a panic, every refusal one line.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::read;

    fn op() -> impl Strategy<Value = Vec<u8>> {
        let plain = prop::sample::select(b"(N)]}tae suR012.\x88\x89\x85\x86\x87\x94\x81\x93b".to_vec());
        prop_oneof![
            plain.prop_map(|b| vec![b]),
            (prop::sample::select(b"KhqpgjrMJ\x8aUCTBX\x8c\x8dGIL".to_vec()), prop::collection::vec(any::<u8>(), 0..9))
                .prop_map(|(b, args)| [vec![b], args].concat()),
            Just(b"cnumpy.core.multiarray\n_reconstruct\n".to_vec()),
            Just(b"\x80\x02".to_vec()),
            any::<u8>().prop_map(|b| vec![b]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        #[test]
        fn opcode_soup_never_panics(ops in prop::collection::vec(op(), 0..40)) {
            let bytes = ops.concat();
            if let Err(err) = read(std::path::Path::new("f.pkl"), &bytes) {
                let message = err.to_string();
                prop_assert!(!message.contains('\n'), "{message:?}");
            }
        }
    }
}
