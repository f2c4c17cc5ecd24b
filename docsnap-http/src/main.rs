//! `docsnap-server`: the DocuSnap protocol over HTTP, and the pipeline on the command line.

mod commands;
mod serve;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use docsnap_core::config::{Config, LogFormat};
use docsnap_http::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.settings.load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };

    let command = cli.command.unwrap_or(Command::Serve);
    let default_level = match command {
        Command::Serve => "info",
        _ => "warn",
    };
    init_logging(&config, default_level);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };

    let serving = matches!(command, Command::Serve);
    let result = runtime.block_on(async move {
        match command {
            Command::Serve => serve::run(config).await,
            Command::Process {
                kind,
                images,
                file_lib,
            } => commands::process(&config, kind, &images, file_lib.as_deref()).await,
            Command::Fill { form, file_lib } => commands::fill(&config, &form, &file_lib).await,
            Command::Ocr { images } => commands::ocr(&config, &images).await,
            Command::Keygen => commands::keygen(&config),
        }
    });

    // Dropping the runtime would wait for OCR still running on blocking
    // threads, keeping the process alive past the shutdown grace period.
    // Abandoned tasks are requeued at the next start.
    runtime.shutdown_background();

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = error_chain(&error);
            // One-shot commands log to the same terminal, so the line below is enough.
            if serving {
                tracing::error!("{message}");
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Joins an error and its causes with `: `, skipping a cause whose text the
/// previous message already contains, since core errors print their source.
fn error_chain(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Sends logs to stderr, so stdout carries only command output.
fn init_logging(config: &Config, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match config.log_format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
