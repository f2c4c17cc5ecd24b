//! Times each ocrs stage (prepare, detect, line finding, recognition) on a
//! folder of page images, to show where a page's time goes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use benches::metrics::median;
use docsnap_core::ocr::{IntakeLimits, bundled, decode_page};

const USAGE: &str = "\
usage: ocr-stages DIR [--recognition MODEL] [--repeat N]

Runs the ocrs stages on every .png and .jpg in DIR and prints the
milliseconds of each stage per page, and their medians.

  --recognition MODEL   an ONNX or .rten recognition model to use instead
                        of the bundled one
  --repeat N            recognise each page N times and keep the fastest
                        run (default 1)
";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut recognition = None;
    let mut repeat = 1usize;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            "--recognition" => {
                recognition = Some(PathBuf::from(
                    args.next()
                        .context("--recognition needs the path of a recognition model file")?,
                ));
            }
            "--repeat" => {
                repeat = args
                    .next()
                    .context("--repeat needs a run count such as 3")?
                    .parse()
                    .context("--repeat needs a whole number such as 3")?;
            }
            _ => dir = Some(PathBuf::from(arg)),
        }
    }
    let Some(dir) = dir else {
        bail!("missing DIR\n\n{USAGE}");
    };
    if !dir.is_dir() {
        bail!(
            "sample folder {} does not exist or is not a folder; pass a folder of page images",
            dir.display()
        );
    }

    let detection = rten::Model::load_static_slice(bundled::DETECTION_MODEL)?;
    let recognition = match &recognition {
        Some(path) => rten::Model::load_file(path)
            .with_context(|| format!("failed to load {}", path.display()))?,
        None => rten::Model::load_static_slice(bundled::RECOGNITION_MODEL)?,
    };
    let engine = ocrs::OcrEngine::new(ocrs::OcrEngineParams {
        detection_model: Some(detection),
        recognition_model: Some(recognition),
        ..Default::default()
    })?;

    let mut images: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("png" | "jpg" | "jpeg")
            )
        })
        .collect();
    images.sort();

    println!("| image | lines | chars | prepare ms | detect ms | lines ms | recognise ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut columns: [Vec<f64>; 4] = Default::default();
    for image in &images {
        let bytes = std::fs::read(image)?;
        let page = decode_page(&bytes, 0, &IntakeLimits::default())?;
        let (width, height) = page.image.dimensions();
        let mut best = [f64::INFINITY; 4];
        let mut counts = (0, 0);
        for _ in 0..repeat.max(1) {
            let mut times = [0.0; 4];
            let started = Instant::now();
            let source = ocrs::ImageSource::from_bytes(page.image.as_raw(), (width, height))?;
            let input = engine.prepare_input(source)?;
            times[0] = started.elapsed().as_secs_f64() * 1e3;
            let started = Instant::now();
            let words = engine.detect_words(&input)?;
            times[1] = started.elapsed().as_secs_f64() * 1e3;
            let started = Instant::now();
            let lines = engine.find_text_lines(&input, &words);
            times[2] = started.elapsed().as_secs_f64() * 1e3;
            let started = Instant::now();
            let text = engine.recognize_text(&input, &lines)?;
            times[3] = started.elapsed().as_secs_f64() * 1e3;
            let chars = text
                .iter()
                .flatten()
                .map(|line| line.to_string().chars().count())
                .sum::<usize>();
            counts = (lines.len(), chars);
            for (best, time) in best.iter_mut().zip(times) {
                *best = best.min(time);
            }
        }
        let name = image.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        println!(
            "| {name} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            counts.0, counts.1, best[0], best[1], best[2], best[3]
        );
        for (column, time) in columns.iter_mut().zip(best) {
            column.push(time);
        }
    }
    let median_of = |stage: usize| median(&columns[stage]).unwrap_or(f64::NAN);
    println!(
        "| **median** | | | {:.0} | {:.0} | {:.0} | {:.0} |",
        median_of(0),
        median_of(1),
        median_of(2),
        median_of(3)
    );
    Ok(())
}
