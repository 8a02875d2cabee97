//! Arguments from Python, read by name and measured before anything of
//! them is copied: integers of any size checked against their range,
//! sequences against their length, arrays against their shape. A mistyped
//! argument is refused in one line naming it (`n -1, expected 1 to …`),
//! never by a bare "can't convert negative int to unsigned" or by an
//! allocation that aborts the interpreter.

use std::fmt::{self, Display};
use std::ops::RangeInclusive;

use numpy::{AllowTypeChange, PyArrayLike1, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList, PyTuple};

/// The most dimensions NumPy gives an array: deeper nesting is NumPy's to
/// refuse.
const MAX_DIMENSIONS: usize = 64;

/// The most characters of a string argument repeated in a message.
const SHOWN_CHARS: usize = 40;

/// The most characters of NumPy's message repeated in one naming the
/// argument (its message may quote the argument's text).
const QUOTED_CHARS: usize = 200;

/// An integer argument as Python gave it: its value, of any size as far
/// as `i128` holds it (one beyond is kept as `i128`'s bound, and shown as
/// "… or more" or "… or less", which is all a range check needs), or the
/// name of the type of anything else. Reading one never fails: its check,
/// which knows the argument's name, says what is wrong.
#[derive(Debug, Clone)]
pub(crate) enum Int {
    Whole(i128),
    /// Not an integer: the name of its type.
    Other(String),
}

impl Int {
    /// The value as a `T` in `range` (`None` outside it), or a `TypeError`
    /// naming the argument when it is not an integer.
    pub(crate) fn within<T: TryFrom<i128> + PartialOrd>(
        &self,
        name: impl Display,
        range: &RangeInclusive<T>,
    ) -> PyResult<Option<T>> {
        match self {
            Int::Whole(whole) => Ok(T::try_from(*whole).ok().filter(|value| range.contains(value))),
            Int::Other(type_name) => Err(PyTypeError::new_err(format!("{name} is {type_name}, expected an integer"))),
        }
    }

    /// The value as a `T` in `range`: a `TypeError` naming the argument
    /// when it is not an integer, a `ValueError` "`name` `value`, expected
    /// `expected`" when it is outside the range (negative, or past 2⁶⁴).
    pub(crate) fn get<T: TryFrom<i128> + PartialOrd>(
        &self,
        name: impl Display,
        range: RangeInclusive<T>,
        expected: fmt::Arguments<'_>,
    ) -> PyResult<T> {
        self.within(&name, &range)?.ok_or_else(|| PyValueError::new_err(format!("{name} {self}, expected {expected}")))
    }
}

impl FromPyObject<'_, '_> for Int {
    type Error = PyErr;

    /// A Python `int`, or anything with `__index__` (a NumPy integer, a
    /// one-element integer tensor).
    fn extract(value: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let py = value.py();
        let index = match value.cast::<PyInt>() {
            Ok(int) => Some(int.to_owned()),
            Err(_) => {
                value.call_method0(intern!(py, "__index__")).ok().and_then(|index| index.cast_into::<PyInt>().ok())
            }
        };
        let Some(int) = index else {
            return Ok(Int::Other(type_name(&value)));
        };
        match int.extract::<i128>() {
            Ok(whole) => Ok(Int::Whole(whole)),
            Err(err) if err.is_instance_of::<PyOverflowError>(py) => {
                Ok(Int::Whole(if int.lt(0)? { i128::MIN } else { i128::MAX }))
            }
            Err(err) => Err(err),
        }
    }
}

impl Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Int::Whole(i128::MAX) => write!(f, "{} or more", i128::MAX),
            Int::Whole(i128::MIN) => write!(f, "{} or less", i128::MIN),
            Int::Whole(whole) => write!(f, "{whole}"),
            Int::Other(type_name) => write!(f, "a {type_name}"),
        }
    }
}

/// The number of items a sequence argument must have, with what that
/// number is (for the message).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Length<'a> {
    Exactly(usize, &'a str),
    AtMost(usize, &'a str),
}

/// The length of a sequence argument, checked against `length` before any
/// of its items is read.
pub(crate) fn length(value: &Bound<'_, PyAny>, name: &str, expected: Length<'_>) -> PyResult<usize> {
    let len = value
        .len()
        .map_err(|_| PyTypeError::new_err(format!("{name} is {}, expected a sequence", type_name(value))))?;
    let fits = match expected {
        Length::Exactly(count, _) => len == count,
        Length::AtMost(limit, _) => len <= limit,
    };
    if fits {
        return Ok(len);
    }
    Err(PyValueError::new_err(match expected {
        Length::Exactly(count, what) => format!("{name} has {len} entries, expected {count} ({what})"),
        Length::AtMost(limit, what) => format!("{name} has {len} entries, expected at most {limit} ({what})"),
    }))
}

/// The items of a sequence argument (a list, a tuple, a 1-D array), each
/// read by `item` with its index, once the length passed `length`.
pub(crate) fn sequence<'py, T>(
    value: &Bound<'py, PyAny>,
    name: &str,
    length: Length<'_>,
    mut item: impl FnMut(&Bound<'py, PyAny>, usize) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    let len = self::length(value, name, length)?;
    let mut items = Vec::with_capacity(len);
    for (index, entry) in value.try_iter()?.take(len).enumerate() {
        items.push(item(&entry?, index)?);
    }
    Ok(items)
}

/// A sequence argument of numbers as `f64`s, converted by NumPy once its
/// length passed `length`.
pub(crate) fn floats(value: &Bound<'_, PyAny>, name: &str, length: Length<'_>) -> PyResult<Vec<f64>> {
    self::length(value, name, length)?;
    let array =
        value.extract::<PyArrayLike1<'_, f64, AllowTypeChange>>().map_err(|err| named(value.py(), err, name))?;
    Ok(array.as_array().to_vec())
}

/// An optional [`floats`].
pub(crate) fn optional_floats(
    value: Option<&Bound<'_, PyAny>>,
    name: &str,
    length: Length<'_>,
) -> PyResult<Option<Vec<f64>>> {
    value.map(|value| floats(value, name, length)).transpose()
}

/// The shape of an array argument, read without copying it: a NumPy
/// array's; that of nested lists or tuples, along their first items as
/// NumPy finds it; or that of what `numpy.asarray` makes of an object with
/// `__array__` (a tensor). Anything else (`None`, a number, a string) is a
/// `TypeError` naming the argument.
pub(crate) fn shape(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<usize>> {
    if is_list_or_tuple(value) {
        return nested_shape(value, name);
    }
    array_shape(value, name)?.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{name} is {}, expected an array (a NumPy array or nested lists of numbers)",
            type_name(value)
        ))
    })
}

/// The shape of a NumPy array, or of what `numpy.asarray` makes of an
/// object with `__array__`; `None` for anything else.
fn array_shape(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Option<Vec<usize>>> {
    if let Ok(array) = value.cast::<PyUntypedArray>() {
        return Ok(Some(array.shape().to_vec()));
    }
    let py = value.py();
    if !value.hasattr(intern!(py, "__array__"))? {
        return Ok(None);
    }
    let array = py.import("numpy")?.call_method1("asarray", (value,)).map_err(|err| named(py, err, name))?;
    Ok(Some(array.cast_into::<PyUntypedArray>()?.shape().to_vec()))
}

/// The lengths of nested lists or tuples along their first items, down to
/// a number (or an array, whose shape ends it).
fn nested_shape(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<usize>> {
    let mut shape = Vec::new();
    let mut item = value.clone();
    while shape.len() < MAX_DIMENSIONS {
        if !is_list_or_tuple(&item) {
            shape.extend(array_shape(&item, name)?.unwrap_or_default());
            break;
        }
        let len = item.len()?;
        shape.push(len);
        if len == 0 {
            break;
        }
        item = item.get_item(0)?;
    }
    Ok(shape)
}

fn is_list_or_tuple(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>()
}

/// A string argument as a message repeats it: its first
/// [`SHOWN_CHARS`] characters, "…" after them if there were more.
pub(crate) fn shown(text: &str) -> String {
    cut(text, SHOWN_CHARS)
}

/// `text`'s first `chars` characters, "…" after them if there were more.
fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A `TypeError` or `ValueError` of NumPy's conversion (or Python's) with
/// the argument's name before its first line; other exceptions
/// (`MemoryError`, `KeyboardInterrupt`) as they are.
pub(crate) fn named(py: Python<'_>, err: PyErr, name: &str) -> PyErr {
    let message = err.value(py).to_string();
    let message = format!("{name}: {}", cut(message.lines().next().unwrap_or_default(), QUOTED_CHARS));
    if err.is_instance_of::<PyTypeError>(py) {
        PyTypeError::new_err(message)
    } else if err.is_instance_of::<PyValueError>(py) {
        PyValueError::new_err(message)
    } else {
        err
    }
}

/// The name of `value`'s type, for messages.
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map_or_else(|_| "an object of unknown type".to_owned(), |name| name.to_string())
}
