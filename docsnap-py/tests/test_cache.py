"""The result cache behind `Engine(db_path=...)`, on real SQLite files."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import docsnap


def test_repeated_call_returns_cached_result(letter_png: Path, tmp_path: Path) -> None:
    engine = docsnap.Engine(db_path=tmp_path / "cache.db")

    first = engine.process_document(letter_png)
    again = engine.process_document(letter_png.read_bytes())
    detailed = engine.process_document(letter_png, provenance=True)

    assert again == first
    assert {key: detailed[key] for key in first} == first
    assert "Jane" in detailed["ocr"][0]["text"]
    assert engine.cache_info() == {
        "path": str(tmp_path / "cache.db"),
        "entries": 1,
        "hits": 2,
        "misses": 1,
    }


def test_each_operation_and_input_has_own_entry(letter_png: Path, tmp_path: Path) -> None:
    engine = docsnap.Engine(db_path=tmp_path / "cache.db")
    library = {"docs": [{"resource_id": "p-1", "title": "Passport", "kv": {"Name": "Jane"}}]}

    engine.ocr(letter_png)
    engine.process_document(letter_png)
    engine.process_document(letter_png, library)
    engine.process_form(letter_png)
    engine.fill_form({"fields": ["Name"]}, library)
    engine.fill_form({"fields": ["Name"]}, library)

    info = engine.cache_info()
    assert info is not None
    assert info["entries"] == 5
    assert info["hits"] == 1


def test_llm_is_not_called_again(fake_chat: Any, letter_png: Path, tmp_path: Path) -> None:
    answer = {"title": "Letter", "tags": ["letter"], "description": "A letter.", "kv": {}}
    server = fake_chat(lambda request: answer)
    db_path = tmp_path / "cache.db"

    def engine(model: str) -> docsnap.Engine:
        llm = docsnap.OpenAICompatible(base_url=server.base_url, model=model)
        return docsnap.Engine(llm=llm, db_path=db_path)

    first = engine("model-a").process_document(letter_png)
    calls = len(server.requests)
    again = engine("model-a").process_document(letter_png)

    assert calls >= 1
    assert again == first
    assert len(server.requests) == calls, "the cached call reached the model"

    engine("model-b").process_document(letter_png)
    assert len(server.requests) > calls, "another model must not reuse model-a's result"


def test_file_contains_no_document_text(letter_png: Path, tmp_path: Path) -> None:
    engine = docsnap.Engine(db_path=tmp_path)
    doc = engine.process_document(letter_png)
    assert "Jane Example" in json.dumps(doc)

    for path in tmp_path.iterdir():
        assert b"Jane" not in path.read_bytes(), f"document text reached {path.name}"


def test_directory_gets_docsnap_db(tmp_path: Path) -> None:
    engine = docsnap.Engine(db_path=tmp_path)

    assert engine.db_path == str(tmp_path / "docsnap.db")
    assert (tmp_path / "docsnap.db").exists()


def test_relative_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = docsnap.Engine(db_path="cache.db")

    assert engine.db_path == str(tmp_path / "cache.db")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_after_chdir_shares_cache(letter_png: Path, tmp_path: Path) -> None:
    # A daemon changes its working directory after it forks, and a forked
    # child opens its own connection to the cache.
    (tmp_path / "first").mkdir()
    (tmp_path / "later").mkdir()
    script = textwrap.dedent(
        f"""
        import os, docsnap
        os.chdir({str(tmp_path / "first")!r})
        engine = docsnap.Engine(db_path="cache.db")
        engine.ocr({str(letter_png)!r})
        os.chdir({str(tmp_path / "later")!r})
        pid = os.fork()
        if pid == 0:
            engine.ocr({str(letter_png)!r})
            print("child hits:", engine.cache_info()["hits"], flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore::RuntimeWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "child hits: 1" in result.stdout, result.stdout + result.stderr
    assert list((tmp_path / "later").iterdir()) == []


def test_failures_are_not_cached(tmp_path: Path) -> None:
    engine = docsnap.Engine(db_path=tmp_path / "cache.db")

    for _ in range(2):
        with pytest.raises(docsnap.InvalidImage):
            engine.ocr(b"not an image")

    info = engine.cache_info()
    assert info is not None
    assert info["entries"] == 0


def test_unusable_cache_logs_warning(
    letter_png: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = docsnap.Engine(db_path=tmp_path / "cache.db")
    db = sqlite3.connect(tmp_path / "cache.db")
    db.execute("DROP TABLE result_cache")
    db.close()

    with caplog.at_level(logging.INFO, logger="docsnap"):
        page = engine.ocr(letter_png)

    assert "Jane" in page["text"]
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.name == "docsnap" and record.levelno == logging.WARNING
    ]
    assert any("result cache lookup failed" in message for message in warnings), caplog.records
    assert any("no such table: result_cache" in message for message in warnings), warnings


def test_clear_cache_counts_entries(letter_png: Path, tmp_path: Path) -> None:
    engine = docsnap.Engine(db_path=tmp_path / "cache.db")
    engine.ocr(letter_png)
    engine.process_document(letter_png)

    assert engine.clear_cache() == 2
    assert engine.clear_cache() == 0
    engine.ocr(letter_png)
    info = engine.cache_info()
    assert info is not None
    assert info["misses"] == 3


def test_engines_share_one_file(letter_png: Path, tmp_path: Path) -> None:
    writer = docsnap.Engine(db_path=tmp_path / "cache.db")
    reader = docsnap.Engine(db_path=tmp_path / "cache.db")

    page = writer.ocr(letter_png)

    assert reader.ocr(letter_png) == page
    info = reader.cache_info()
    assert info is not None
    assert info["hits"] == 1


def test_unused_entries_expire(letter_png: Path, tmp_path: Path) -> None:
    day = 24 * 3600.0
    engine = docsnap.Engine(db_path=tmp_path / "cache.db", cache_max_age=day)
    engine.ocr(letter_png)
    with sqlite3.connect(tmp_path / "cache.db") as db:
        db.execute("UPDATE result_cache SET accessed_at = accessed_at - ?", (int(2 * day * 1000),))

    engine.ocr(letter_png)

    info = engine.cache_info()
    assert info is not None
    assert info["hits"] == 0
    assert info["misses"] == 2
    assert info["entries"] == 1


def test_without_db_path_there_is_no_cache(engine: docsnap.Engine) -> None:
    assert engine.db_path is None
    assert engine.cache_info() is None
    assert engine.clear_cache() == 0


def test_missing_directory_raises_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "cache.db"

    with pytest.raises(FileNotFoundError) as raised:
        docsnap.Engine(db_path=missing)

    assert str(missing) in str(raised.value)
    assert "create its directory first" in str(raised.value)


def test_other_file_raises_database_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("these are notes, not a database\n" * 64)

    with pytest.raises(docsnap.DatabaseError, match="is not a SQLite database"):
        docsnap.Engine(db_path=notes)


@pytest.mark.parametrize("age", [0, -5.0, float("nan"), float("inf")])
def test_bad_max_age_raises_value_error(tmp_path: Path, age: float) -> None:
    with pytest.raises(ValueError, match="cache_max_age"):
        docsnap.Engine(db_path=tmp_path / "cache.db", cache_max_age=age)


def test_huge_max_age_names_limit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"greater than 0 and less than 2\*\*64, got 1e20"):
        docsnap.Engine(db_path=tmp_path / "cache.db", cache_max_age=1e20)


def test_max_age_without_db_path_raises() -> None:
    with pytest.raises(ValueError, match="db_path"):
        docsnap.Engine(cache_max_age=60.0)


def test_empty_db_path_raises_value_error() -> None:
    with pytest.raises(ValueError, match="'db_path' is empty"):
        docsnap.Engine(db_path="")


def test_db_path_of_wrong_type_raises_type_error() -> None:
    with pytest.raises(TypeError, match="db_path"):
        docsnap.Engine(db_path=42)  # type: ignore[arg-type]
