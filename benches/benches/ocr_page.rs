//! Time for one page through the in-process ocrs engine: decode, then
//! detect and recognise.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use docsnap_core::ocr::{IntakeLimits, OcrEngine, OcrsConfig, OcrsEngine, decode_page};

fn ocr_page(c: &mut Criterion) {
    let path = benches::bench_page_path();
    let bytes = std::fs::read(&path).unwrap_or_else(|err| {
        panic!(
            "failed to read the benchmark page {}: {err}; set DOCSNAP_BENCH_PAGE to an image",
            path.display()
        )
    });
    let limits = IntakeLimits::default();
    let engine = OcrsEngine::new(OcrsConfig::default()).expect("ocrs engine with bundled models");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut group = c.benchmark_group("ocr_page");
    // One page takes seconds, so criterion's default of 100 samples would
    // take minutes.
    group.sample_size(10);

    group.bench_function("decode", |b| {
        b.iter(|| decode_page(&bytes, 0, &limits).expect("benchmark page decodes"))
    });

    // Ten samples of a page that takes seconds need about a minute.
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("decode_detect_recognise", |b| {
        b.iter(|| {
            let page = decode_page(&bytes, 0, &limits).expect("benchmark page decodes");
            runtime
                .block_on(engine.recognize(&page))
                .expect("ocrs recognises the benchmark page")
        })
    });

    group.finish();
}

criterion_group!(benches, ocr_page);
criterion_main!(benches);
