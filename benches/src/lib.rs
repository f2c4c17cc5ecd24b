//! Helpers shared by docsnap benchmarks and evaluation commands: OCR
//! metrics and ground-truth readers.

pub mod metrics;
pub mod truth;

use std::path::PathBuf;

/// Returns the page image the criterion benchmarks read: `$DOCSNAP_BENCH_PAGE`,
/// or else a FUNSD form in the evaluation samples beside the workspace.
pub fn bench_page_path() -> PathBuf {
    match std::env::var_os("DOCSNAP_BENCH_PAGE") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/samples/funsd/82092117.png"),
    }
}
