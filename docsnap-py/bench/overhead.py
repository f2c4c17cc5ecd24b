"""Time Engine.ocr and Engine.fill_form from Python, to compare with the
Rust baseline of `examples/ocr_timing.rs` for benches/README.md, and a
document read with and without a result cache hit.

Usage: python bench/overhead.py PAGE.png [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import docsnap


def time_runs(runs: int, call: Callable[[], object]) -> list[float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    page = Path(sys.argv[1]).read_bytes()
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    engine = docsnap.Engine()

    # One warm-up call loads the thread pools and caches, as in the Rust example.
    engine.ocr(page)
    ocr_seconds = time_runs(runs, lambda: engine.ocr(page))

    library = {"docs": [{"id": "d1", "title": "Passport", "kv": {"Nationality": "British"}}]}
    form = {"fields": ["Nationality"]}
    fill_seconds = time_runs(runs * 100, lambda: engine.fill_form(form, library))

    with tempfile.TemporaryDirectory() as directory:
        cached = docsnap.Engine(db_path=Path(directory) / "cache.db")
        miss_seconds = time_runs(1, lambda: cached.process_document(page))
        hit_seconds = time_runs(runs * 10, lambda: cached.process_document(page))

    print(f"ocr_median_s={statistics.median(ocr_seconds):.4f}")
    print(f"fill_median_s={statistics.median(fill_seconds):.7f}")
    print(f"document_cache_miss_s={miss_seconds[0]:.4f}")
    print(f"document_cache_hit_median_s={statistics.median(hit_seconds):.5f}")


if __name__ == "__main__":
    main()
