//! `serve`: start the components, listen, and shut down gracefully on SIGTERM or SIGINT.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use docsnap_core::config::{Config, OcrEngineKind};
use docsnap_core::engine::Engine;
use docsnap_core::envelope::ServerKey;
use docsnap_core::service::{ServiceConfig, TaskService};
use docsnap_core::store::SqliteStore;
use docsnap_http::AppState;
use docsnap_http::metrics::TimedPipeline;
use tokio::net::TcpListener;

use crate::commands::build_timed_engine;

/// Runs the server until SIGTERM or SIGINT, then drains in-flight tasks.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let mut state = AppState::new(&config);
    let engine = Arc::new(build_timed_engine(&config, &state.metrics)?);
    state.recognizer = Some(engine.clone());

    let mut fingerprint = None;
    if config.serves_protocol() {
        let key = ServerKey::load_or_generate(&config.data_dir).with_context(|| {
            format!(
                "failed to load or create the key pair in {}; make it a directory this user can write, or pass another --data-dir",
                config.data_dir.display()
            )
        })?;
        let key = Arc::new(key);
        let database = config.database_path();
        let store = SqliteStore::open(&database)
            .with_context(|| {
                format!(
                    "failed to open the task database {}; make it and its directory writable by this user, or pass another --data-dir",
                    database.display()
                )
            })?;
        let pipeline = Arc::new(TimedPipeline::new(engine.clone(), state.metrics.clone()));

        let service = TaskService::new(
            Arc::new(store),
            key.clone(),
            pipeline,
            service_config(&config),
        );
        service
            .start()
            .await
            .with_context(|| {
                format!(
                    "failed to start the task service on {}; make it and its directory writable by this user, or pass another --data-dir",
                    database.display()
                )
            })?;

        fingerprint = Some(key.fingerprint());
        state.public_key_pem = Some(key.public_key_pem().into());
        state.service = Some(service);
    }

    let listener = TcpListener::bind(config.listen).await.with_context(|| {
        format!(
            "failed to listen on {}; pick another --listen address",
            config.listen
        )
    })?;
    let local = listener.local_addr()?;
    log_startup(&config, &engine, local, fingerprint.as_deref());
    // The one line on stdout, so scripts and tests can read the port when listening on port 0.
    println!("docsnap-server listening on {}", browse_url(local));

    let service = state.service.clone();
    let router = docsnap_http::router(&config, state);
    docsnap_http::server::serve(
        listener,
        router,
        config.header_read_timeout,
        shutdown_signal(),
    )
    .await;

    tracing::info!(grace = ?config.shutdown_grace, "stopped accepting requests; draining tasks");
    if let Some(service) = service {
        service.shutdown(config.shutdown_grace).await;
    }
    tracing::info!("docsnap-server stopped");
    Ok(())
}

fn service_config(config: &Config) -> ServiceConfig {
    ServiceConfig {
        workers: config.service.workers,
        retention: config.service.retention,
        processing_timeout: config.service.processing_timeout,
        max_pages: config.service.max_pages,
        ..ServiceConfig::default()
    }
}

fn log_startup(config: &Config, engine: &Engine, local: SocketAddr, fingerprint: Option<&str>) {
    let ocr = match config.ocr.engine {
        OcrEngineKind::Ocrs => engine.ocr_engine().name().to_owned(),
        OcrEngineKind::Remote => format!(
            "{} ({})",
            engine.ocr_engine().name(),
            config.ocr.remote_urls.join(", ")
        ),
    };
    let extractor = match config.llm.endpoint() {
        Some(endpoint) => format!(
            "{} ({} at {})",
            engine.extractor().name(),
            endpoint.model,
            endpoint.base_url
        ),
        None => engine.extractor().name().to_owned(),
    };
    tracing::info!(
        listen = %local,
        data_dir = %config.data_dir.display(),
        role = ?config.role,
        ocr = %ocr,
        extractor = %extractor,
        key_fingerprint = fingerprint.unwrap_or("-"),
        workers = config.service.workers,
        "docsnap-server started"
    );

    if config.serves_protocol() && config.llm.endpoint().is_none() {
        match config.llm.preset {
            Some(preset) if preset.requires_key() => tracing::warn!(
                ?preset,
                "no API key in DOCSNAP_LLM_API_KEY, so the offline rule extractor runs instead of the language model"
            ),
            _ => tracing::info!("no language model configured; the offline rule extractor runs"),
        }
    }
}

/// Returns the URL to open in a browser, with a wildcard address replaced by loopback.
fn browse_url(local: SocketAddr) -> String {
    let host = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/", SocketAddr::new(host, local.port()))
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "failed to listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "failed to listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = interrupt => tracing::info!("received SIGINT; shutting down"),
        () = terminate => tracing::info!("received SIGTERM; shutting down"),
    }
}
