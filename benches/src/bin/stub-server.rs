//! Benchmark-only server: the real router, task service and SQLite store with
//! a pipeline that returns at once, so load tests measure HTTP, crypto and storage.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use async_trait::async_trait;
use docsnap_core::config::Config;
use docsnap_core::envelope::ServerKey;
use docsnap_core::pipeline::{InnerPayload, Pipeline};
use docsnap_core::service::{ServiceConfig, TaskService};
use docsnap_core::store::SqliteStore;
use docsnap_core::types::TaskKind;
use docsnap_http::AppState;
use serde_json::json;
use tokio::net::TcpListener;

/// Returns a fixed document result without looking at the pages.
#[derive(Debug)]
struct StubPipeline;

#[async_trait]
impl Pipeline for StubPipeline {
    async fn run(
        &self,
        _kind: TaskKind,
        _payload: InnerPayload,
    ) -> docsnap_core::Result<serde_json::Value> {
        Ok(json!({
            "title": "Stub result",
            "tags": ["benchmark"],
            "description": "Returned by the benchmark stub pipeline.",
            "kv": {},
            "related": []
        }))
    }
}

const USAGE: &str = "usage: stub-server --listen ADDR --data-dir DIR";

fn parse_args() -> anyhow::Result<(SocketAddr, PathBuf)> {
    let mut listen = None;
    let mut data_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--listen" => {
                listen = Some(value.parse().with_context(|| {
                    format!("--listen {value} is not an address like 127.0.0.1:8000")
                })?);
            }
            "--data-dir" => data_dir = Some(PathBuf::from(value)),
            other => bail!("unknown flag {other}; {USAGE}"),
        }
    }
    match (listen, data_dir) {
        (Some(listen), Some(data_dir)) => Ok((listen, data_dir)),
        _ => bail!("{USAGE}"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (listen, data_dir) = parse_args()?;
    // Log like docsnap-server (INFO to stderr unless RUST_LOG sets a level), so the cost matches.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("failed to create --data-dir {}", data_dir.display()))?;
    let config = Config {
        listen,
        data_dir,
        ..Config::default()
    };

    let mut state = AppState::new(&config);
    let key = Arc::new(ServerKey::load_or_generate(&config.data_dir)?);
    let store = SqliteStore::open(config.database_path())?;
    let service = TaskService::new(
        Arc::new(store),
        key.clone(),
        Arc::new(StubPipeline),
        ServiceConfig {
            workers: config.service.workers,
            ..ServiceConfig::default()
        },
    );
    service.start().await?;
    state.public_key_pem = Some(key.public_key_pem().into());
    state.service = Some(service.clone());

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("failed to listen on {}", config.listen))?;
    println!(
        "stub-server listening on http://{}/",
        listener.local_addr()?
    );
    let router = docsnap_http::router(&config, state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    service.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(())
}
