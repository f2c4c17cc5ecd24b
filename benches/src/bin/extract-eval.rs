//! Evaluates the rule extractor on ground-truth OCR from the sample set, so
//! the figures measure extraction and not OCR.
//!
//! Usage: `cargo run --release -p benches --bin extract-eval -- <samples-dir> [--show]`;
//! `--show` prints each FUNSD form's lines, kv and fields.

#[path = "../extract_eval/funsd.rs"]
mod funsd;
#[path = "../extract_eval/ids.rs"]
mod ids;
#[path = "../extract_eval/normalize.rs"]
mod normalize;
#[path = "../extract_eval/sroie.rs"]
mod sroie;
#[path = "../extract_eval/w9.rs"]
mod w9;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Errors seen while scoring, grouped by class, with examples.
#[derive(Debug, Default)]
pub struct ErrorClasses(BTreeMap<String, Vec<String>>);

impl ErrorClasses {
    /// Records one error of `class` with an example.
    pub fn add(&mut self, class: &str, example: String) {
        self.0.entry(class.to_string()).or_default().push(example);
    }

    fn print(&self, title: &str) {
        if self.0.is_empty() {
            return;
        }
        println!("\n{title}: error classes");
        let mut classes: Vec<_> = self.0.iter().collect();
        classes.sort_by_key(|(_, examples)| std::cmp::Reverse(examples.len()));
        for (class, examples) in classes {
            println!("  {:>3}  {class}", examples.len());
            for example in examples.iter().take(3) {
                println!("         e.g. {example}");
            }
        }
    }
}

/// Measures as (name, formatted value) rows, plus the errors behind them.
pub type Outcome = Result<(Vec<(String, String)>, ErrorClasses), String>;

fn main() -> ExitCode {
    let Some(samples) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!(
            "usage: extract-eval <samples-dir>: the folder holding funsd/, receipts_sroie/ and specimens/"
        );
        return ExitCode::from(2);
    };
    if !samples.is_dir() {
        eprintln!(
            "samples directory {} not found: pass the folder holding funsd/, receipts_sroie/ and specimens/",
            samples.display()
        );
        return ExitCode::from(2);
    }

    let mut rows: Vec<(String, String)> = Vec::new();
    let mut ok = true;
    ok &= run("FUNSD", &samples.join("funsd"), &mut rows, funsd::evaluate);
    ok &= run(
        "SROIE",
        &samples.join("receipts_sroie"),
        &mut rows,
        sroie::evaluate,
    );
    ok &= run("MRZ", &samples.join("specimens"), &mut rows, ids::evaluate);
    ok &= run(
        "W-9 fill",
        &samples.join("specimens"),
        &mut rows,
        w9::evaluate,
    );

    println!("\n| measure | value |\n|---|---|");
    for (name, value) in &rows {
        println!("| {name} | {value} |");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(
    name: &str,
    dir: &Path,
    rows: &mut Vec<(String, String)>,
    evaluate: fn(&Path) -> Outcome,
) -> bool {
    if !dir.is_dir() {
        println!("{name}: skipped, {} not found", dir.display());
        return true;
    }
    match evaluate(dir) {
        Ok((measures, errors)) => {
            rows.extend(measures);
            errors.print(name);
            true
        }
        Err(message) => {
            eprintln!("{name}: evaluation failed: {message}");
            false
        }
    }
}

/// Reads and parses a JSON file, naming the file in the error.
pub fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("invalid JSON in {}: {e}", path.display()))
}

/// Lists the files in `dir` whose names end with `suffix`, sorted.
pub fn files_ending(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Formats a ratio as `0.83 (5/6)`.
pub fn ratio(hits: usize, total: usize) -> String {
    if total == 0 {
        return "n/a (0 cases)".to_string();
    }
    format!("{:.2} ({hits}/{total})", hits as f64 / total as f64)
}
