//! Measures OCR accuracy and speed on a folder of FUNSD or SROIE samples.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use benches::metrics::{median, order_free_cer, ordered_cer, tokens, word_scores};
use benches::truth::{Sample, find_samples};
use docsnap_core::ocr::remote::{CnOcrClient, RemoteOcrConfig};
use docsnap_core::ocr::{OcrEngine, Page};

const USAGE: &str = "\
usage: ocr-eval DIR [--engine ocrs|tesseract|cnocr-url URL] [--models DET REC]

Runs OCR on every image in DIR that has ground truth beside it, in the
FUNSD format (<id>.png + <id>.json) or the SROIE format (<name>.jpg +
<name>.box.csv), and prints per image and as the median: the order-free
CER (tokens sorted), the ordered CER, word F1 and seconds per page.

  --engine ocrs            in-process ocrs engine (default)
  --models DET REC         ocrs detection and recognition model files
                           (ONNX or .rten) instead of the bundled ones
  --engine tesseract       the tesseract program on PATH
                           (apt-get install -y tesseract-ocr)
  --engine cnocr-url URL   a CnOCR-style server, such as
                           http://127.0.0.1:8501
";

#[derive(Debug, Clone, PartialEq, Eq)]
enum EngineChoice {
    Ocrs,
    Tesseract,
    CnOcr(String),
}

#[derive(Debug, PartialEq, Eq)]
struct Options {
    dir: PathBuf,
    engine: EngineChoice,
    /// Detection and recognition model files for ocrs, if not the bundled ones.
    models: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Run(Options),
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut dir = None;
    let mut engine = EngineChoice::Ocrs;
    let mut models = None;

    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--engine" => {
                let name = args
                    .next()
                    .ok_or("--engine needs a value: ocrs, tesseract or cnocr-url URL")?;
                engine = match name.as_str() {
                    "ocrs" => EngineChoice::Ocrs,
                    "tesseract" => EngineChoice::Tesseract,
                    "cnocr-url" => {
                        let url = args.next().ok_or(
                            "--engine cnocr-url needs the server URL after it, \
                             such as --engine cnocr-url http://127.0.0.1:8501",
                        )?;
                        EngineChoice::CnOcr(url)
                    }
                    other => {
                        return Err(format!(
                            "unknown engine {other:?}; use ocrs, tesseract or cnocr-url URL"
                        ));
                    }
                };
            }
            "--models" => {
                let (Some(detection), Some(recognition)) = (args.next(), args.next()) else {
                    return Err("--models needs two paths: the detection model, then the \
                                recognition model"
                        .to_owned());
                };
                models = Some((PathBuf::from(detection), PathBuf::from(recognition)));
            }
            flag if flag.starts_with('-') => {
                return Err(format!("unknown option {flag:?}"));
            }
            _ if dir.is_some() => {
                return Err(format!("unexpected argument {arg:?}; give one DIR"));
            }
            _ => dir = Some(PathBuf::from(arg)),
        }
    }

    let dir = dir.ok_or("missing DIR, the folder of sample images")?;
    Ok(Command::Run(Options {
        dir,
        engine,
        models,
    }))
}

/// Turns one image file into text with the chosen engine.
enum Runner {
    Tesseract,
    Engine {
        engine: Arc<dyn OcrEngine>,
        decode: fn(&[u8]) -> anyhow::Result<Page>,
        runtime: tokio::runtime::Runtime,
    },
}

impl Runner {
    fn new(choice: &EngineChoice, models: Option<&(PathBuf, PathBuf)>) -> anyhow::Result<Self> {
        match choice {
            EngineChoice::Tesseract => Ok(Runner::Tesseract),
            EngineChoice::Ocrs => ocrs_runner(models),
            EngineChoice::CnOcr(url) => {
                let client = CnOcrClient::new(url, RemoteOcrConfig::default())?;
                Ok(Runner::Engine {
                    engine: Arc::new(client),
                    decode: decode_with_image_crate,
                    runtime: runtime()?,
                })
            }
        }
    }

    /// Describes the engine for the report header.
    fn describe(&self) -> anyhow::Result<String> {
        match self {
            Runner::Tesseract => tesseract_version(),
            Runner::Engine { engine, .. } => Ok(engine.name().to_owned()),
        }
    }

    fn recognize(&self, image: &Path) -> anyhow::Result<String> {
        match self {
            Runner::Tesseract => run_tesseract(image),
            Runner::Engine {
                engine,
                decode,
                runtime,
            } => {
                let bytes = std::fs::read(image)
                    .with_context(|| format!("failed to read {}", image.display()))?;
                let page = decode(&bytes)?;
                let text = runtime.block_on(engine.recognize(&page))?;
                Ok(text.text())
            }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the tokio runtime")
}

fn decode_with_image_crate(bytes: &[u8]) -> anyhow::Result<Page> {
    let image = image::load_from_memory(bytes).context("failed to decode the image")?;
    Ok(Page {
        index: 0,
        image: image.to_rgb8(),
    })
}

fn ocrs_runner(models: Option<&(PathBuf, PathBuf)>) -> anyhow::Result<Runner> {
    use docsnap_core::ocr::{IntakeLimits, ModelSource, OcrsConfig, OcrsEngine, decode_page};

    fn decode(bytes: &[u8]) -> anyhow::Result<Page> {
        Ok(decode_page(bytes, 0, &IntakeLimits::default())?)
    }

    Ok(Runner::Engine {
        engine: Arc::new(OcrsEngine::new(OcrsConfig {
            models: match models {
                Some((detection, recognition)) => ModelSource::Files {
                    detection: detection.clone(),
                    recognition: recognition.clone(),
                },
                None => ModelSource::Bundled,
            },
            ..OcrsConfig::default()
        })?),
        decode,
        runtime: runtime()?,
    })
}

fn tesseract_version() -> anyhow::Result<String> {
    let output = std::process::Command::new("tesseract")
        .arg("--version")
        .output()
        .map_err(tesseract_spawn_error)?;
    let version = String::from_utf8_lossy(&output.stdout);
    Ok(version
        .lines()
        .next()
        .unwrap_or("tesseract")
        .trim()
        .to_owned())
}

fn run_tesseract(image: &Path) -> anyhow::Result<String> {
    let output = std::process::Command::new("tesseract")
        .arg(image)
        .arg("stdout")
        .output()
        .map_err(tesseract_spawn_error)?;
    if !output.status.success() {
        bail!(
            "tesseract failed on {} ({}): {}",
            image.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn tesseract_spawn_error(err: std::io::Error) -> anyhow::Error {
    if err.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "tesseract is not on PATH; install it with `apt-get install -y tesseract-ocr`"
        )
    } else {
        anyhow::Error::new(err).context("failed to start tesseract")
    }
}

/// The scores of one image.
struct Row {
    order_free_cer: f64,
    ordered_cer: f64,
    word_f1: f64,
    seconds: f64,
}

fn evaluate(runner: &Runner, sample: &Sample) -> anyhow::Result<Row> {
    let started = Instant::now();
    let mut hypothesis = runner.recognize(&sample.image)?;
    let seconds = started.elapsed().as_secs_f64();

    let mut reference = sample.truth.reading_order_text();
    if !sample.truth.format.is_case_sensitive() {
        reference = reference.to_uppercase();
        hypothesis = hypothesis.to_uppercase();
    }

    Ok(Row {
        order_free_cer: order_free_cer(&reference, &hypothesis),
        ordered_cer: ordered_cer(&reference, &hypothesis),
        word_f1: word_scores(&reference, &hypothesis).f1,
        seconds,
    })
}

fn run(options: &Options) -> anyhow::Result<ExitCode> {
    if !options.dir.is_dir() {
        bail!(
            "sample folder {} does not exist or is not a folder; pass a folder with FUNSD \
             (<id>.png + <id>.json) or SROIE (<name>.jpg + <name>.box.csv) samples",
            options.dir.display()
        );
    }
    let set = find_samples(&options.dir)?;
    if set.samples.is_empty() {
        bail!(
            "no image in {} has ground truth beside it (<id>.json or <name>.box.csv)",
            options.dir.display()
        );
    }

    let runner = Runner::new(&options.engine, options.models.as_ref())?;
    println!("engine: {}", runner.describe()?);
    println!("folder: {}", options.dir.display());
    for image in &set.without_truth {
        println!("skipped (no ground truth): {}", image.display());
    }
    println!();
    println!("| image | format | ref words | CER order-free | CER ordered | word F1 | s/page |");
    println!("|---|---|---:|---:|---:|---:|---:|");

    let mut rows = Vec::new();
    let mut failures = 0;
    for sample in &set.samples {
        let words = tokens(&sample.truth.reading_order_text()).len();
        let prefix = format!("| {} | {} | {words} |", sample.id, sample.truth.format);
        match evaluate(&runner, sample) {
            Ok(row) => {
                println!(
                    "{prefix} {:.3} | {:.3} | {:.3} | {:.2} |",
                    row.order_free_cer, row.ordered_cer, row.word_f1, row.seconds
                );
                rows.push(row);
            }
            Err(err) => {
                println!("{prefix} failed: {err:#} | | | |");
                failures += 1;
            }
        }
    }

    print_medians(&rows);
    if failures > 0 {
        eprintln!("{failures} of {} images failed", set.samples.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_medians(rows: &[Row]) {
    let column = |score: fn(&Row) -> f64| {
        let values: Vec<f64> = rows.iter().map(score).collect();
        median(&values).unwrap_or(f64::NAN)
    };
    println!(
        "| **median** (n = {}) | | | {:.3} | {:.3} | {:.3} | {:.2} |",
        rows.len(),
        column(|row| row.order_free_cer),
        column(|row| row.ordered_cer),
        column(|row| row.word_f1),
        column(|row| row.seconds),
    );
}

fn main() -> ExitCode {
    let command = match parse_args(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("ocr-eval: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    match command {
        Command::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Run(options) => match run(&options) {
            Ok(code) => code,
            Err(err) => {
                eprintln!("ocr-eval: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|arg| (*arg).to_owned()))
    }

    fn run_options(dir: &str, engine: EngineChoice) -> Result<Command, String> {
        Ok(Command::Run(Options {
            dir: PathBuf::from(dir),
            engine,
            models: None,
        }))
    }

    #[test]
    fn args_default_engine_is_ocrs() {
        assert_eq!(
            parse(&["samples"]),
            run_options("samples", EngineChoice::Ocrs)
        );
    }

    #[test]
    fn args_engine_before_or_after_dir() {
        let expected = run_options("samples", EngineChoice::Tesseract);
        assert_eq!(parse(&["samples", "--engine", "tesseract"]), expected);
        assert_eq!(parse(&["--engine", "tesseract", "samples"]), expected);
    }

    #[test]
    fn args_cnocr_takes_url() {
        let expected = run_options(
            "samples",
            EngineChoice::CnOcr("http://127.0.0.1:8501".to_owned()),
        );
        assert_eq!(
            parse(&["samples", "--engine", "cnocr-url", "http://127.0.0.1:8501"]),
            expected
        );
        assert_eq!(
            parse(&["--engine", "cnocr-url", "http://127.0.0.1:8501", "samples"]),
            expected
        );
    }

    #[test]
    fn args_errors_name_the_fix() {
        let cases = [
            (vec![], "missing DIR"),
            (vec!["samples", "--engine"], "--engine needs a value"),
            (
                vec!["samples", "--engine", "cnocr-url"],
                "needs the server URL",
            ),
            (
                vec!["samples", "--engine", "easyocr"],
                "unknown engine \"easyocr\"",
            ),
            (vec!["samples", "--verbose"], "unknown option \"--verbose\""),
            (vec!["a", "b"], "unexpected argument \"b\""),
        ];
        for (args, expected) in cases {
            let message = parse(&args).expect_err("invalid arguments");
            assert!(message.contains(expected), "{args:?}: {message}");
        }
    }

    #[test]
    fn args_models_take_two_paths() {
        assert_eq!(
            parse(&["samples", "--models", "det.onnx", "rec.onnx"]),
            Ok(Command::Run(Options {
                dir: PathBuf::from("samples"),
                engine: EngineChoice::Ocrs,
                models: Some((PathBuf::from("det.onnx"), PathBuf::from("rec.onnx"))),
            }))
        );
        let message = parse(&["samples", "--models", "det.onnx"]).expect_err("one path");
        assert!(message.contains("--models needs two paths"), "{message}");
    }

    #[test]
    fn args_help() {
        assert_eq!(parse(&["samples", "--help"]), Ok(Command::Help));
    }
}
