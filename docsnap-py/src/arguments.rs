//! Conversion of Python arguments: page images, file libraries and forms.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyMapping, PyMemoryView, PyString, PyTuple};
use serde::de::DeserializeOwned;

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
pub fn mapping<T: DeserializeOwned>(value: &Bound<'_, PyAny>, argument: &str) -> PyResult<T> {
    if !value.is_instance_of::<PyMapping>() {
        return Err(PyTypeError::new_err(format!(
            "argument '{argument}' must be a dict, got {}",
            type_name(value)
        )));
    }
    pythonize::depythonize(value)
        .map_err(|error| PyValueError::new_err(format!("invalid '{argument}': {error}")))
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
