//! Prometheus metrics: requests, tasks, queue, processing latency and memory.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use async_trait::async_trait;
use docsnap_core::Result;
use docsnap_core::extract::Extractor;
use docsnap_core::ocr::{OcrEngine, Page, PageText};
use docsnap_core::pipeline::{InnerPayload, Pipeline};
use docsnap_core::types::{
    DocumentResult, FileLibrary, FillResult, FormResult, FormToFill, TaskKind,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of one HTTP request: the matched route, not the raw path, so
/// clients cannot create new series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template, such as `/api/v1/process`, or `unmatched`.
    pub route: String,
    /// The HTTP method.
    pub method: String,
    /// The response status code.
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ExtractorLabels {
    extractor: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PipelineLabels {
    kind: &'static str,
    outcome: &'static str,
}

/// Every metric the server exposes at `GET /metrics`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    tasks: Family<StateLabels, Gauge>,
    queue_depth: Gauge,
    queue_oldest_age: Gauge<f64, AtomicU64>,
    pipeline_duration: Family<PipelineLabels, Histogram>,
    ocr_duration: Histogram,
    extraction_duration: Family<ExtractorLabels, Histogram>,
    resident_memory: Gauge,
}

/// Task counts at one moment, from the task service.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TaskCounts {
    /// Tasks queued or running.
    pub processing: i64,
    /// Tasks with a stored result.
    pub completed: i64,
    /// Tasks that failed and keep their error code.
    pub failed: i64,
    /// Tasks waiting for a worker.
    pub queue_depth: i64,
    /// Age of the oldest waiting task, in seconds; 0 when none waits.
    pub oldest_queued_seconds: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("docsnap");

        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );

        let tasks = Family::<StateLabels, Gauge>::default();
        registry.register("tasks", "Stored tasks by state", tasks.clone());

        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Tasks waiting for a worker",
            queue_depth.clone(),
        );

        let queue_oldest_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "queue_oldest_age_seconds",
            "Age of the oldest task waiting for a worker, in seconds",
            queue_oldest_age.clone(),
        );

        let pipeline_duration = Family::<PipelineLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.05, 2.0, 14))
        });
        registry.register(
            "pipeline_duration_seconds",
            "Time to process one task, from OCR to the validated result, by kind and outcome",
            pipeline_duration.clone(),
        );

        let ocr_duration = Histogram::new(exponential_buckets(0.05, 2.0, 12));
        registry.register(
            "ocr_duration_seconds",
            "Time to recognise one page",
            ocr_duration.clone(),
        );

        let extraction_duration =
            Family::<ExtractorLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.01, 2.0, 14))
            });
        registry.register(
            "extraction_duration_seconds",
            "Time of one extraction by extractor; with the LLM extractor mostly language model calls",
            extraction_duration.clone(),
        );

        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of this process, in bytes",
            resident_memory.clone(),
        );

        Self {
            registry,
            requests,
            tasks,
            queue_depth,
            queue_oldest_age,
            pipeline_duration,
            ocr_duration,
            extraction_duration,
            resident_memory,
        }
    }

    /// Counts one finished HTTP request.
    pub fn record_request(&self, labels: RequestLabels) {
        self.requests.get_or_create(&labels).inc();
    }

    /// Records the time recognising one page took, in seconds.
    pub fn observe_ocr(&self, seconds: f64) {
        self.ocr_duration.observe(seconds);
    }

    /// Records the time one extraction took, in seconds.
    pub fn observe_extraction(&self, extractor: &str, seconds: f64) {
        let labels = ExtractorLabels {
            extractor: extractor.to_owned(),
        };
        self.extraction_duration
            .get_or_create(&labels)
            .observe(seconds);
    }

    /// Sets the task and queue gauges.
    pub fn set_task_counts(&self, counts: TaskCounts) {
        let states = [
            ("processing", counts.processing),
            ("completed", counts.completed),
            ("failed", counts.failed),
        ];
        for (state, count) in states {
            self.tasks.get_or_create(&StateLabels { state }).set(count);
        }
        self.queue_depth.set(counts.queue_depth);
        self.queue_oldest_age.set(counts.oldest_queued_seconds);
    }

    /// Encodes every metric in the Prometheus text format, reading the
    /// process memory first.
    pub fn encode(&self) -> String {
        if let Some(bytes) = resident_memory_bytes() {
            self.resident_memory.set(bytes);
        }
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        text
    }
}

/// Reads `VmRSS` from `/proc/self/status`; `None` off Linux or if it is unreadable.
fn resident_memory_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kibibytes: i64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kibibytes * 1024)
}

/// A pipeline that records how long each task takes, by kind and outcome.
#[derive(Debug)]
pub struct TimedPipeline {
    inner: Arc<dyn Pipeline>,
    metrics: Arc<Metrics>,
}

impl TimedPipeline {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: Arc<dyn Pipeline>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl Pipeline for TimedPipeline {
    async fn run(&self, kind: TaskKind, payload: InnerPayload) -> Result<serde_json::Value> {
        let started = Instant::now();
        let result = self.inner.run(kind, payload).await;
        let labels = PipelineLabels {
            kind: kind.as_str(),
            outcome: if result.is_ok() {
                "completed"
            } else {
                "failed"
            },
        };
        self.metrics
            .pipeline_duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

/// An OCR engine that records the time of each page in `ocr_duration_seconds`.
#[derive(Debug)]
pub struct TimedOcrEngine {
    inner: Arc<dyn OcrEngine>,
    metrics: Arc<Metrics>,
}

impl TimedOcrEngine {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: Arc<dyn OcrEngine>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl OcrEngine for TimedOcrEngine {
    async fn recognize(&self, page: &Page) -> Result<PageText> {
        let started = Instant::now();
        let result = self.inner.recognize(page).await;
        self.metrics.observe_ocr(started.elapsed().as_secs_f64());
        result
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

/// An extractor that records the time of each call in
/// `extraction_duration_seconds`, labelled with the extractor's name.
///
/// With the LLM extractor this time is mostly language model calls, so it
/// stands in for LLM latency.
#[derive(Debug)]
pub struct TimedExtractor {
    inner: Arc<dyn Extractor>,
    metrics: Arc<Metrics>,
}

impl TimedExtractor {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: Arc<dyn Extractor>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn record(&self, started: Instant) {
        self.metrics
            .observe_extraction(self.inner.name(), started.elapsed().as_secs_f64());
    }
}

#[async_trait]
impl Extractor for TimedExtractor {
    async fn document(&self, pages: &[PageText], library: &FileLibrary) -> Result<DocumentResult> {
        let started = Instant::now();
        let result = self.inner.document(pages, library).await;
        self.record(started);
        result
    }

    async fn form(&self, pages: &[PageText], library: &FileLibrary) -> Result<FormResult> {
        let started = Instant::now();
        let result = self.inner.form(pages, library).await;
        self.record(started);
        result
    }

    async fn fill(&self, form: &FormToFill, library: &FileLibrary) -> Result<FillResult> {
        let started = Instant::now();
        let result = self.inner.fill(form, library).await;
        self.record(started);
        result
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encode_contains_every_family() {
        let metrics = Metrics::new();
        metrics.record_request(RequestLabels {
            route: "/process".to_owned(),
            method: "POST".to_owned(),
            status: 202,
        });
        metrics.set_task_counts(TaskCounts {
            processing: 3,
            queue_depth: 2,
            oldest_queued_seconds: 1.5,
            ..TaskCounts::default()
        });
        metrics.observe_extraction("rules", 0.02);
        let text = metrics.encode();

        assert!(
            text.contains(
                r#"docsnap_http_requests_total{route="/process",method="POST",status="202"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"docsnap_tasks{state="processing"} 3"#),
            "{text}"
        );
        assert!(text.contains("docsnap_queue_depth 2"), "{text}");
        assert!(
            text.contains("docsnap_queue_oldest_age_seconds 1.5"),
            "{text}"
        );
        assert!(text.contains("docsnap_ocr_duration_seconds"), "{text}");
        assert!(
            text.contains("docsnap_extraction_duration_seconds"),
            "{text}"
        );
        assert!(
            text.contains("docsnap_process_resident_memory_bytes"),
            "{text}"
        );
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(resident_memory_bytes().unwrap() > 0);
        }
    }
}
