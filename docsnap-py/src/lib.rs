//! The `docsnap` Python module.

use pyo3::prelude::*;

/// The `docsnap` module.
#[pymodule]
fn docsnap(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
