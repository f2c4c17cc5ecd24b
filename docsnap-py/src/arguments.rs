//! Conversion of Python arguments: page images, file libraries, forms and
//! durations.

use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyFloat, PyInt, PyList, PyMapping, PyMemoryView, PyString,
    PyTuple,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// The deepest nesting of dicts and lists accepted in a mapping argument,
/// the same limit serde_json applies when it parses JSON text.
const MAX_NESTING: usize = 128;

/// Reads `images`: one image or a list or tuple of them, where each image is
/// `bytes`-like, a path (`str` or `os.PathLike`) or a binary file object.
///
/// Paths are opened with Python's `open`, so a missing file raises
/// `FileNotFoundError` with the file name, as any Python API would.
pub fn images(value: &Bound<'_, PyAny>, argument: &str) -> PyResult<Vec<Vec<u8>>> {
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let mut pages = Vec::new();
        for (index, item) in value.try_iter()?.enumerate() {
            pages.push(one_image(&item?, &format!("{argument}[{index}]"))?);
        }
        if pages.is_empty() {
            return Err(PyValueError::new_err(format!(
                "argument '{argument}' is an empty list: pass at least one page image"
            )));
        }
        Ok(pages)
    } else {
        Ok(vec![one_image(value, argument)?])
    }
}

fn one_image(value: &Bound<'_, PyAny>, argument: &str) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if let Ok(bytes) = value.cast::<PyByteArray>() {
        return Ok(bytes.to_vec());
    }
    if value.is_instance_of::<PyMemoryView>() {
        let bytes = value.call_method0("tobytes")?;
        return Ok(bytes.cast::<PyBytes>()?.as_bytes().to_vec());
    }
    if value.is_instance_of::<PyString>() || value.hasattr("__fspath__")? {
        return read_path(value);
    }
    if value.hasattr("read")? {
        return read_file_object(value, argument);
    }

    Err(PyTypeError::new_err(format!(
        "argument '{argument}' must be bytes, a path (str or os.PathLike) or a binary file \
         object, or a list of those; got {}",
        type_name(value)
    )))
}

fn read_path(path: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let py = path.py();
    let file = py.import("builtins")?.call_method1("open", (path, "rb"))?;
    let contents = file.call_method0("read");
    file.call_method0("close")?;
    Ok(contents?.cast::<PyBytes>()?.as_bytes().to_vec())
}

fn read_file_object(file: &Bound<'_, PyAny>, argument: &str) -> PyResult<Vec<u8>> {
    let contents = file.call_method0("read")?;
    if let Ok(bytes) = contents.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if let Ok(bytes) = contents.cast::<PyByteArray>() {
        return Ok(bytes.to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "argument '{argument}': read() returned {}, not bytes; open the file in binary mode ('rb')",
        type_name(&contents)
    )))
}

/// Reads a duration argument given in seconds, which must be positive and
/// fit a `Duration`.
pub fn seconds(value: f64, argument: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "argument '{argument}' must be a number of seconds greater than 0 and less \
                 than 2**64, got {value:?}"
            ))
        })
}

/// Reads an optional mapping argument, such as `file_lib`, into a core type;
/// `None` gives the type's default.
pub fn optional_mapping<T: DeserializeOwned + Default>(
    value: Option<&Bound<'_, PyAny>>,
    argument: &str,
) -> PyResult<T> {
    match value {
        None => Ok(T::default()),
        Some(value) if value.is_none() => Ok(T::default()),
        Some(value) => mapping(value, argument),
    }
}

/// Reads a mapping argument, such as a form, into a core type.
///
/// The value is read as JSON first, so it means what the same JSON would
/// mean in a protocol request: a `str` where a list is expected is an error,
/// not a list of characters.
pub fn mapping<T: DeserializeOwned>(value: &Bound<'_, PyAny>, argument: &str) -> PyResult<T> {
    if !value.is_instance_of::<PyMapping>() {
        return Err(PyTypeError::new_err(format!(
            "argument '{argument}' must be a dict, got {}",
            type_name(value)
        )));
    }
    let invalid =
        |problem: String| PyValueError::new_err(format!("invalid '{argument}': {problem}"));
    let json = json_value(value, 0).map_err(invalid)?;
    serde_json::from_value(json).map_err(|error| invalid(error.to_string()))
}

/// Converts a Python value made of dicts, lists, tuples, strings, numbers,
/// booleans and `None` into JSON, or describes what does not convert.
///
/// The nesting limit keeps a deeply nested argument from overflowing the
/// stack here or in serde, which would end the whole process.
fn json_value(value: &Bound<'_, PyAny>, depth: usize) -> Result<Value, String> {
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        return json_integer(value);
    }
    if let Ok(number) = value.cast::<PyFloat>() {
        // NaN and infinity have no JSON form, and read as null.
        return Ok(Number::from_f64(number.value()).map_or(Value::Null, Value::Number));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return text
            .to_cow()
            .map(|text| Value::String(text.into_owned()))
            .map_err(|error| error.to_string());
    }
    if value.is_instance_of::<PyBytes>() || value.is_instance_of::<PyByteArray>() {
        return Err(format!(
            "{} is not text; decode it to str first",
            type_name(value)
        ));
    }

    let inner = depth + 1;
    if inner > MAX_NESTING {
        return Err(format!(
            "it is nested more than {MAX_NESTING} levels deep; flatten the data"
        ));
    }
    if let Ok(mapping) = value.cast::<PyMapping>() {
        let mut object = Map::new();
        for item in mapping.items().map_err(|error| error.to_string())?.iter() {
            let (key, item): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                item.extract().map_err(|error| error.to_string())?;
            let Ok(key) = key.cast::<PyString>() else {
                return Err(format!("keys must be str, got {}", type_name(&key)));
            };
            let key = key
                .to_cow()
                .map_err(|error| error.to_string())?
                .into_owned();
            object.insert(key, json_value(&item, inner)?);
        }
        return Ok(Value::Object(object));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value.try_iter().map_err(|error| error.to_string())?;
        let array = items
            .map(|item| json_value(&item.map_err(|error| error.to_string())?, inner))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Value::Array(array));
    }

    Err(format!(
        "{} is not a JSON value; use dicts, lists, str, numbers, bool and None",
        type_name(value)
    ))
}

fn json_integer(value: &Bound<'_, PyAny>) -> Result<Value, String> {
    if let Ok(number) = value.extract::<i64>() {
        return Ok(Value::from(number));
    }
    if let Ok(number) = value.extract::<u64>() {
        return Ok(Value::from(number));
    }
    Err(format!("the integer {value} does not fit in 64 bits"))
}

/// Converts a serialisable value, such as a result, into plain Python objects.
pub fn to_python<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value)
        .map_err(|error| PyValueError::new_err(format!("failed to convert a result: {error}")))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "an unknown type".to_owned())
}
