//! The `docsnap._docsnap` extension module behind the `docsnap` Python package.

mod arguments;
mod client;
mod engine;
mod errors;
mod logging;
mod ocr_worker;
mod runtime;

use pyo3::prelude::*;

/// The native half of `docsnap`; import `docsnap` instead.
#[pymodule(gil_used = false)]
fn _docsnap(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    logging::install();
    errors::register(module)?;
    module.add_class::<client::Client>()?;
    module.add_class::<client::Task>()?;
    module.add_class::<engine::Engine>()?;
    module.add_class::<engine::OpenAICompatible>()?;
    module.add_class::<engine::Zhipu>()?;
    module.add_class::<runtime::Cancellation>()?;
    module.add_function(wrap_pyfunction!(ocr_worker::_serve_ocr, module)?)?;
    Ok(())
}
