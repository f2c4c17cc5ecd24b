//! `docsnap.Engine` and the language model settings it accepts.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use docsnap_core::engine::Engine as CoreEngine;
use docsnap_core::extract::Extractor;
use docsnap_core::extract::llm::LlmExtractor;
use docsnap_core::extract::provenance::{self, Provenance};
use docsnap_core::extract::rules::RuleExtractor;
use docsnap_core::llm::{DEFAULT_MAX_PROMPT_CHARS, OpenAiCompatible, OpenAiConfig};
use docsnap_core::ocr::{OcrEngine, OcrsConfig, OcrsEngine, PageText};
use docsnap_core::store::{CacheOptions, ResultCache};
use docsnap_core::types::{FileLibrary, FormToFill};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use serde_json::{Value, json};

use crate::arguments;
use crate::errors;
use crate::logging;
use crate::ocr_worker::{self, HelperCommand, HelperOcr};
use crate::runtime::{PerProcess, run_detached};

/// The pid of the process that first loaded the OCR models.
///
/// rten loads and runs models on a process-wide rayon pool that is created
/// once and never rebuilt. A forked child inherits the pool without its
/// threads, so loading or running a model there would wait forever, and the
/// child runs OCR in a helper process instead.
static OCR_POOL_OWNER: AtomicU32 = AtomicU32::new(0);

/// The cache identity of the in-process OCR engine, set by the pool's owner.
/// A forked child's helper runs the same engine and reuses this identity, so
/// parent and child share cached results. Read it with `get()` only: if the
/// parent was setting it during fork(), `get_or_init()` in the child would
/// wait forever.
static OCR_IDENTITY: OnceLock<String> = OnceLock::new();

/// Settings of an OpenAI-compatible chat-completions server.
#[pyclass(module = "docsnap._docsnap", frozen)]
#[derive(Debug, Clone)]
pub struct OpenAICompatible {
    config: OpenAiConfig,
}

#[pymethods]
impl OpenAICompatible {
    /// Uses the server at `base_url` (the API root, such as
    /// `http://127.0.0.1:11434/v1`) with `model`; `timeout` is in seconds.
    /// Prompts longer than `max_prompt_chars` characters are shortened, so
    /// lower it for a model with a small context window.
    #[new]
    #[pyo3(signature = (
        base_url,
        model,
        api_key=None,
        *,
        timeout=120.0,
        json_mode=true,
        max_prompt_chars=DEFAULT_MAX_PROMPT_CHARS as i64,
    ))]
    fn new(
        base_url: String,
        model: String,
        api_key: Option<String>,
        timeout: f64,
        json_mode: bool,
        max_prompt_chars: i64,
    ) -> PyResult<Self> {
        let mut config = OpenAiConfig::openai_compatible(base_url, model);
        config.api_key = api_key;
        config.request_timeout = arguments::seconds(timeout, "timeout")?;
        config.json_mode = json_mode;
        config.max_prompt_chars = count(max_prompt_chars, "max_prompt_chars")?;
        checked(config)
    }

    /// The API root that requests go to.
    #[getter]
    fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// The model name sent with every request.
    #[getter]
    fn model(&self) -> &str {
        &self.config.model
    }

    /// The maximum length of the user prompt sent, in characters.
    #[getter]
    fn max_prompt_chars(&self) -> usize {
        self.config.max_prompt_chars
    }

    fn __repr__(&self) -> String {
        describe_llm("OpenAICompatible", &self.config)
    }

    /// Returns the constructor arguments that `pickle` recreates the
    /// settings from, the API key included.
    fn __getnewargs_ex__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let config = &self.config;
        let args = (&config.base_url, &config.model, &config.api_key).into_pyobject(py)?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("timeout", config.request_timeout.as_secs_f64())?;
        kwargs.set_item("json_mode", config.json_mode)?;
        kwargs.set_item("max_prompt_chars", config.max_prompt_chars)?;
        Ok((args, kwargs))
    }
}

/// Settings of Zhipu's GLM API.
#[pyclass(module = "docsnap._docsnap", frozen)]
#[derive(Debug, Clone)]
pub struct Zhipu {
    config: OpenAiConfig,
}

#[pymethods]
impl Zhipu {
    /// Uses Zhipu's GLM API with `api_key`; `timeout` is in seconds, and
    /// prompts longer than `max_prompt_chars` characters are shortened.
    #[new]
    #[pyo3(signature = (
        api_key,
        model="glm-4-plus",
        *,
        timeout=120.0,
        max_prompt_chars=DEFAULT_MAX_PROMPT_CHARS as i64,
    ))]
    fn new(api_key: String, model: &str, timeout: f64, max_prompt_chars: i64) -> PyResult<Self> {
        if api_key.trim().is_empty() {
            return Err(PyValueError::new_err(
                "argument 'api_key' is empty: pass the key of your Zhipu account, such as \
                 os.environ[\"ZHIPU_API_KEY\"]",
            ));
        }
        let mut config = OpenAiConfig::zhipu(api_key);
        config.model = model.to_owned();
        config.request_timeout = arguments::seconds(timeout, "timeout")?;
        config.max_prompt_chars = count(max_prompt_chars, "max_prompt_chars")?;
        let OpenAICompatible { config } = checked(config)?;
        Ok(Self { config })
    }

    /// The API root that requests go to.
    #[getter]
    fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// The model name sent with every request.
    #[getter]
    fn model(&self) -> &str {
        &self.config.model
    }

    /// The maximum length of the user prompt sent, in characters.
    #[getter]
    fn max_prompt_chars(&self) -> usize {
        self.config.max_prompt_chars
    }

    fn __repr__(&self) -> String {
        describe_llm("Zhipu", &self.config)
    }

    /// Returns the constructor arguments that `pickle` recreates the
    /// settings from, the API key included.
    fn __getnewargs_ex__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let config = &self.config;
        let args = (&config.api_key, &config.model).into_pyobject(py)?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("timeout", config.request_timeout.as_secs_f64())?;
        kwargs.set_item("max_prompt_chars", config.max_prompt_chars)?;
        Ok((args, kwargs))
    }
}

/// The document engine: OCR, extraction and validation in this process.
#[pyclass(module = "docsnap._docsnap", subclass, frozen)]
#[derive(Debug)]
pub struct Engine {
    /// The settings object the engine was created with, returned as given.
    settings: Option<Py<PyAny>>,
    llm: Option<OpenAiConfig>,
    /// The result cache's path and options, if results are cached.
    cache_settings: Option<(PathBuf, CacheOptions)>,
    /// This process's connection to the result cache.
    cache: PerProcess<Option<Arc<ResultCache>>>,
    /// This process's engine, built on first use.
    core: PerProcess<Arc<CoreEngine>>,
}

#[pymethods]
impl Engine {
    /// Prepares the language model client with `llm`, else the offline rule
    /// extractor, and opens or creates the result cache at `db_path`.
    ///
    /// The OCR models load on the engine's first `ocr`, `process_*` or
    /// `fill_form` call, so an engine created before `fork()` works in the
    /// children.
    #[new]
    #[pyo3(signature = (llm=None, db_path=None, *, cache_max_age=None))]
    fn new(
        py: Python<'_>,
        llm: Option<&Bound<'_, PyAny>>,
        db_path: Option<PathBuf>,
        cache_max_age: Option<f64>,
    ) -> PyResult<Self> {
        let settings = llm.filter(|value| !value.is_none());
        let llm = settings.map(llm_config).transpose()?;
        if db_path.is_none() && cache_max_age.is_some() {
            return Err(PyValueError::new_err(
                "argument 'cache_max_age' needs a result cache: pass db_path as well",
            ));
        }
        let max_age = cache_max_age
            .map(|age| arguments::seconds(age, "cache_max_age"))
            .transpose()?;
        if db_path
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            return Err(PyValueError::new_err(
                "argument 'db_path' is empty: pass a file or directory path, or None for no \
                 result cache",
            ));
        }
        // Each new SQLite connection resolves a relative path again, so a
        // later chdir() would otherwise give a forked child another file.
        let db_path = db_path.map(std::path::absolute).transpose()?;
        let cache_settings = db_path.map(|path| (path, CacheOptions { max_age }));
        let cache = open_cache(cache_settings.as_ref());
        logging::flush(py)?;
        let cache = cache?;

        Ok(Self {
            settings: settings.map(|value| value.clone().unbind()),
            llm,
            cache_settings,
            cache: PerProcess::with_value(cache),
            core: PerProcess::empty(),
        })
    }

    /// Recognises the text of page images: one page dict for one image, a
    /// list of page dicts for a list of images.
    fn ocr<'py>(&self, py: Python<'py>, images: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let single = !(images.is_instance_of::<PyList>() || images.is_instance_of::<PyTuple>());
        let images = arguments::images(images, "images")?;
        let engine = self.engine(py)?;

        let pages = run_detached(py, async move {
            engine.ocr(images).await.map_err(errors::to_py_err)
        })?;
        let mut pages: Vec<Value> = pages.iter().map(page_json).collect();
        match (single, pages.pop()) {
            (true, Some(page)) => arguments::to_python(py, &page),
            (_, last) => {
                pages.extend(last);
                arguments::to_python(py, &pages)
            }
        }
    }

    /// Reads a document from its page images; `provenance=True` adds the
    /// recognised pages as "ocr" and where each kv value was read as
    /// "provenance".
    #[pyo3(signature = (images, file_lib=None, *, provenance=false))]
    fn process_document<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        file_lib: Option<&Bound<'py, PyAny>>,
        provenance: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let images = arguments::images(images, "images")?;
        let library: FileLibrary = arguments::optional_mapping(file_lib, "file_lib")?;
        let engine = self.engine(py)?;

        let processed = run_detached(py, async move {
            engine
                .process_document(images, &library)
                .await
                .map_err(errors::to_py_err)
        })?;
        let result = to_value(&processed.result)?;
        let with_pages = provenance.then_some((processed.pages.as_slice(), &processed.provenance));
        respond(py, result, with_pages)
    }

    /// Reads a form, with its blank fields, from its page images;
    /// `provenance=True` adds "ocr" and "provenance" as for documents.
    #[pyo3(signature = (images, file_lib=None, *, provenance=false))]
    fn process_form<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        file_lib: Option<&Bound<'py, PyAny>>,
        provenance: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let images = arguments::images(images, "images")?;
        let library: FileLibrary = arguments::optional_mapping(file_lib, "file_lib")?;
        let engine = self.engine(py)?;

        let processed = run_detached(py, async move {
            engine
                .process_form(images, &library)
                .await
                .map_err(errors::to_py_err)
        })?;
        let result = to_value(&processed.result)?;
        let with_pages = provenance.then_some((processed.pages.as_slice(), &processed.provenance));
        respond(py, result, with_pages)
    }

    /// Fills a form's blank fields from the file library, keeping only
    /// values found in the entry they cite. `provenance=True` adds to each
    /// value the library text it was matched against as "provenance".
    #[pyo3(signature = (form, file_lib, *, provenance=false))]
    fn fill_form<'py>(
        &self,
        py: Python<'py>,
        form: &Bound<'py, PyAny>,
        file_lib: &Bound<'py, PyAny>,
        provenance: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let form: FormToFill = arguments::mapping(form, "form")?;
        let library: FileLibrary = arguments::mapping(file_lib, "file_lib")?;
        let engine = self.engine(py)?;

        let (fill, library) = run_detached(py, async move {
            let fill = engine
                .fill_form(&form, &library)
                .await
                .map_err(errors::to_py_err)?;
            Ok((fill, library))
        })?;
        if !provenance {
            return arguments::to_python(py, &fill);
        }
        let mut origins = provenance::explain_fill(&fill, &library);
        let mut result = to_value(&fill)?;
        for (label, value) in result.as_object_mut().into_iter().flatten() {
            if let Some(origin) = origins.shift_remove(label) {
                value["provenance"] = json!(origin);
            }
        }
        arguments::to_python(py, &result)
    }

    /// The language model settings, or `None` for the rule extractor.
    #[getter]
    fn llm(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.settings
            .as_ref()
            .map(|settings| settings.clone_ref(py))
    }

    /// The extractor in use, such as "rules" or "llm:glm-4-plus".
    #[getter]
    fn extractor(&self) -> PyResult<String> {
        Ok(build_extractor(self.llm.as_ref())?.name().to_owned())
    }

    /// The result cache's database file as an absolute path, or `None`
    /// without a cache.
    #[getter]
    fn db_path(&self) -> PyResult<Option<String>> {
        let cache = self.result_cache()?;
        Ok(cache.map(|cache| cache.path().display().to_string()))
    }

    /// Returns the result cache's path, its entry count and this process's
    /// hits and misses, or `None` without a cache.
    fn cache_info<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(cache) = self.result_cache()? else {
            return Ok(None);
        };
        let path = cache.path().display().to_string();
        let stats = run_detached(
            py,
            async move { cache.stats().await.map_err(errors::to_py_err) },
        )?;

        let info = PyDict::new(py);
        info.set_item("path", path)?;
        info.set_item("entries", stats.entries)?;
        info.set_item("hits", stats.hits)?;
        info.set_item("misses", stats.misses)?;
        Ok(Some(info))
    }

    /// Returns the constructor arguments that `pickle` recreates the engine
    /// from, so that an engine or its bound methods can be sent to a
    /// process started with multiprocessing's "spawn" or "forkserver"
    /// method. The copy loads its own OCR models on first use.
    fn __getnewargs_ex__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let (db_path, max_age) = match &self.cache_settings {
            Some((path, options)) => (Some(path), options.max_age),
            None => (None, None),
        };
        let args = (self.llm(py), db_path).into_pyobject(py)?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("cache_max_age", max_age.map(|age| age.as_secs_f64()))?;
        Ok((args, kwargs))
    }

    /// Deletes every cached result, also those other processes stored in
    /// the same file, and returns how many there were; 0 without a cache.
    fn clear_cache(&self, py: Python<'_>) -> PyResult<u64> {
        let Some(cache) = self.result_cache()? else {
            return Ok(0);
        };
        run_detached(
            py,
            async move { cache.clear().await.map_err(errors::to_py_err) },
        )
    }
}

impl Engine {
    /// Returns this process's core engine, built on first use. A forked
    /// child builds its own, because the language model client's pooled
    /// connections belong to the parent's runtime, and runs its OCR in a
    /// helper process if the parent had loaded the OCR models.
    fn engine(&self, py: Python<'_>) -> PyResult<Arc<CoreEngine>> {
        let pool_owner = claim_ocr_pool().err();
        // Python runs outside the slot's lock: if it released the GIL there,
        // another thread could take the GIL and then wait for the lock.
        let helper_command = pool_owner.map(|_| HelperCommand::from_python(py));

        let engine = self.core.get_or_try_init(|| {
            let ocr: Arc<dyn OcrEngine> = match helper_command {
                Some(command) => Arc::new(HelperOcr::new(command, OCR_IDENTITY.get().cloned())),
                None => in_process_ocr()?,
            };
            let extractor = build_extractor(self.llm.as_ref())?;
            let engine = CoreEngine::new(ocr, extractor);
            let engine = match self.result_cache()? {
                Some(cache) => engine.with_cache(cache),
                None => engine,
            };
            Ok(Arc::new(engine))
        })?;

        if let Some(owner) = pool_owner {
            ocr_worker::warn_once(py, owner)?;
        }
        Ok(engine)
    }

    /// Returns this process's connection to the result cache. A forked
    /// child opens its own, because SQLite connections must not cross `fork()`.
    fn result_cache(&self) -> PyResult<Option<Arc<ResultCache>>> {
        self.cache
            .get_or_try_init(|| open_cache(self.cache_settings.as_ref()))
    }
}

fn build_extractor(llm: Option<&OpenAiConfig>) -> PyResult<Arc<dyn Extractor>> {
    let Some(config) = llm else {
        return Ok(Arc::new(RuleExtractor::new()));
    };
    let model = OpenAiCompatible::new(config.clone()).map_err(errors::to_py_err)?;
    Ok(Arc::new(LlmExtractor::new(Arc::new(model))))
}

fn open_cache(settings: Option<&(PathBuf, CacheOptions)>) -> PyResult<Option<Arc<ResultCache>>> {
    let Some((path, options)) = settings else {
        return Ok(None);
    };
    let cache = ResultCache::open_with(path, options.clone()).map_err(errors::to_py_os_err)?;
    Ok(Some(Arc::new(cache)))
}

/// Claims rten's thread pool for this process, or returns the pid of the
/// parent process that loaded the OCR models before forking this one.
fn claim_ocr_pool() -> Result<(), u32> {
    let pid = std::process::id();
    let claimed = OCR_POOL_OWNER.compare_exchange(0, pid, Ordering::AcqRel, Ordering::Acquire);
    match claimed {
        Ok(_) => Ok(()),
        Err(owner) if owner == pid => Ok(()),
        Err(owner) => Err(owner),
    }
}

/// Loads the OCR models into this process and records the engine's identity.
fn in_process_ocr() -> PyResult<Arc<dyn OcrEngine>> {
    let ocr = OcrsEngine::new(OcrsConfig::default()).map_err(errors::to_py_err)?;
    let _ = OCR_IDENTITY.set(ocr.cache_identity());
    Ok(Arc::new(ocr))
}

fn llm_config(value: &Bound<'_, PyAny>) -> PyResult<OpenAiConfig> {
    if let Ok(settings) = value.cast::<OpenAICompatible>() {
        return Ok(settings.get().config.clone());
    }
    if let Ok(settings) = value.cast::<Zhipu>() {
        return Ok(settings.get().config.clone());
    }
    Err(PyTypeError::new_err(format!(
        "argument 'llm' must be docsnap.OpenAICompatible, docsnap.Zhipu or None, got {}",
        value.get_type().name()?
    )))
}

/// Validates a configuration by building a client from it once.
fn checked(config: OpenAiConfig) -> PyResult<OpenAICompatible> {
    OpenAiCompatible::new(config.clone()).map_err(errors::to_py_err)?;
    Ok(OpenAICompatible { config })
}

fn count(value: i64, argument: &str) -> PyResult<usize> {
    usize::try_from(value).map_err(|_| {
        PyValueError::new_err(format!(
            "argument '{argument}' must be a positive number, got {value}"
        ))
    })
}

fn describe_llm(class: &str, config: &OpenAiConfig) -> String {
    let key = if config.api_key.is_some() {
        "'<redacted>'"
    } else {
        "None"
    };
    format!(
        "{class}(base_url={:?}, model={:?}, api_key={key})",
        without_credentials(&config.base_url),
        config.model
    )
}

/// Returns `url` with its user name and password, if any, replaced by
/// "redacted", because a proxy or gateway may take its key there.
fn without_credentials(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return url.to_owned();
    }
    // Both only fail for URLs that cannot have credentials, which is ruled out above.
    let _ = parsed.set_username("redacted");
    let _ = parsed.set_password(None);
    parsed.to_string()
}

fn page_json(page: &PageText) -> Value {
    let mut value = json!(page);
    value["text"] = json!(page.text());
    value
}

fn to_value<T: serde::Serialize>(result: &T) -> PyResult<Value> {
    serde_json::to_value(result)
        .map_err(|error| PyValueError::new_err(format!("failed to convert a result: {error}")))
}

/// Converts a result, adding "ocr" and "provenance" when they were asked for.
fn respond<'py>(
    py: Python<'py>,
    mut result: Value,
    with_pages: Option<(&[PageText], &Provenance)>,
) -> PyResult<Bound<'py, PyAny>> {
    if let Some((pages, origins)) = with_pages {
        result["ocr"] = Value::Array(pages.iter().map(page_json).collect());
        result["provenance"] = json!(origins.values);
    }
    arguments::to_python(py, &result)
}
