//! Times `Engine::ocr` and `Engine::fill_form` from Rust, as the baseline for
//! the Python call overhead in benches/README.md; `bench/overhead.py` times the same
//! calls from Python.
//!
//! Usage: `cargo run --release -p docsnap-py --example ocr_timing -- PAGE.png [RUNS]`

use std::sync::Arc;
use std::time::Instant;

use docsnap_core::engine::Engine;
use docsnap_core::extract::rules::RuleExtractor;
use docsnap_core::ocr::{OcrsConfig, OcrsEngine};
use docsnap_core::types::{FileLibrary, FormToFill};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let page_path = arguments
        .next()
        .ok_or("usage: ocr_timing PAGE.png [RUNS]")?;
    let runs: usize = arguments
        .next()
        .map(|runs| runs.parse())
        .transpose()?
        .unwrap_or(10);
    let page = std::fs::read(&page_path)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ocr = OcrsEngine::new(OcrsConfig::default())?;
    let engine = Engine::new(Arc::new(ocr), Arc::new(RuleExtractor::new()));

    // One warm-up call loads the thread pools and caches, as in the Python script.
    runtime.block_on(engine.ocr(vec![page.clone()]))?;
    let ocr_seconds = time_runs(runs, || {
        runtime.block_on(engine.ocr(vec![page.clone()])).map(drop)
    })?;

    let library: FileLibrary = serde_json::from_str(
        r#"{"docs": [{"id": "d1", "title": "Passport", "kv": {"Nationality": "British"}}]}"#,
    )?;
    let form: FormToFill = serde_json::from_str(r#"{"fields": ["Nationality"]}"#)?;
    let fill_seconds = time_runs(runs * 100, || {
        runtime
            .block_on(engine.fill_form(&form, &library))
            .map(drop)
    })?;

    println!("ocr_median_s={:.4}", median(ocr_seconds));
    println!("fill_median_s={:.7}", median(fill_seconds));
    Ok(())
}

fn time_runs(
    runs: usize,
    mut call: impl FnMut() -> docsnap_core::Result<()>,
) -> docsnap_core::Result<Vec<f64>> {
    let mut seconds = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        call()?;
        seconds.push(start.elapsed().as_secs_f64());
    }
    Ok(seconds)
}

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}
