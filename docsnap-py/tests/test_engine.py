"""The engine with the rule extractor on real fixture pages."""

from __future__ import annotations

import asyncio
import difflib
import io
import multiprocessing
import pickle
from pathlib import Path

import docsnap

from conftest import OCR_FIXTURES, render_page


def normalized(text: str) -> str:
    return " ".join(text.lower().split())


def test_installed_wheel_is_tested() -> None:
    source_tree = Path(__file__).resolve().parents[1] / "python"
    assert source_tree not in Path(docsnap.__file__).resolve().parents


def test_ocr_reads_fixture(engine: docsnap.Engine, letter_png: Path) -> None:
    page = engine.ocr(letter_png)

    assert page["index"] == 0
    assert page["width"] > 0
    assert page["height"] > 0
    texts = [line["text"] for line in page["lines"]]
    assert "jane example" in normalized(page["text"])
    assert page["text"] == "\n".join(texts)
    for line in page["lines"]:
        box = line["bbox"]
        assert set(box) == {"x", "y", "width", "height"}
        assert 0 <= box["x"] < page["width"]
        assert 0 <= box["y"] < page["height"]


def test_ocr_close_to_golden(engine: docsnap.Engine) -> None:
    golden = (OCR_FIXTURES / "letter.txt").read_text()
    page = engine.ocr(OCR_FIXTURES / "letter.png")

    # The core's OCR tests pin the exact text; this checks that the binding
    # returns the same page, allowing for a word that ocrs drops.
    similarity = difflib.SequenceMatcher(None, normalized(page["text"]), normalized(golden)).ratio()
    assert similarity > 0.95, page["text"]


def test_image_argument_forms_agree(engine: docsnap.Engine, letter_png: Path) -> None:
    data = letter_png.read_bytes()
    expected = engine.ocr(data)["text"]

    assert engine.ocr(str(letter_png))["text"] == expected
    assert engine.ocr(letter_png)["text"] == expected
    assert engine.ocr(bytearray(data))["text"] == expected
    assert engine.ocr(memoryview(data))["text"] == expected
    assert engine.ocr(io.BytesIO(data))["text"] == expected
    with open(letter_png, "rb") as file:
        assert engine.ocr(file)["text"] == expected


def test_ocr_list_returns_pages(engine: docsnap.Engine, letter_png: Path, tmp_path: Path) -> None:
    second = render_page(["Second page", "Total: 42"], tmp_path / "second.png")
    pages = engine.ocr([letter_png, second])

    assert isinstance(pages, list)
    assert [page["index"] for page in pages] == [0, 1]
    assert "second page" in normalized(pages[1]["text"])
    assert len(engine.ocr((letter_png,))) == 1


def test_process_document_rules(engine: docsnap.Engine, letter_png: Path) -> None:
    doc = engine.process_document(letter_png)

    assert set(doc) == {"title", "tags", "description", "kv", "related"}
    assert doc["title"]
    assert 1 <= len(doc["tags"]) <= 4
    assert doc["related"] == []
    values = [normalized(value) for value in doc["kv"].values()]
    assert "jane example" in values, doc["kv"]


def test_process_document_related(engine: docsnap.Engine, letter_png: Path) -> None:
    library = {"docs": [{"id": "a1", "title": "Unrelated", "kv": {"Colour": "Blue"}}]}
    doc = engine.process_document([letter_png], library)
    for related in doc["related"]:
        assert related == {"type": "doc", "resource_id": "a1"}


def test_process_form_rules(engine: docsnap.Engine, letter_png: Path) -> None:
    form = engine.process_form(letter_png)

    assert set(form) == {"title", "tags", "description", "kv", "fields", "related"}
    assert "Form Type" in form["kv"]
    assert not set(form["kv"]) & set(form["fields"])


def test_fill_form_rules(engine: docsnap.Engine) -> None:
    library = {
        "docs": [
            {
                "resource_id": "passport-1",
                "title": "Passport",
                "kv": {"Full Name (English/Latin)": "Jane Example", "Nationality": "British"},
            }
        ]
    }
    form = {"title": "Visa application", "fields": ["Full Name (English/Latin)", "Nationality"]}

    filled = engine.fill_form(form, library)

    assert filled["Nationality"] == {
        "value": "British",
        "source": {"type": "doc", "resource_id": "passport-1"},
    }
    assert filled["Full Name (English/Latin)"]["value"] == "Jane Example"


def test_fill_form_keeps_only_grounded(engine: docsnap.Engine) -> None:
    library = {"docs": [{"id": "d1", "title": "Receipt", "kv": {"Total": "42.00"}}]}
    filled = engine.fill_form({"fields": ["Passport Number"]}, library)
    assert filled == {}


def test_provenance(engine: docsnap.Engine, letter_png: Path) -> None:
    doc = engine.process_document(letter_png, provenance=True)

    assert [page["index"] for page in doc["ocr"]] == [0]
    assert doc["ocr"][0]["lines"]
    assert doc["provenance"], "no kv value was located"
    for key, origin in doc["provenance"].items():
        assert key in doc["kv"]
        assert origin["page"] == 0
        assert set(origin["bbox"]) == {"x", "y", "width", "height"}
        for line in origin["line_text"].split("\n"):
            assert line in doc["ocr"][0]["text"]

    plain = engine.process_document(letter_png)
    assert "ocr" not in plain
    assert "provenance" not in plain


def test_fill_provenance(engine: docsnap.Engine) -> None:
    library = {"docs": [{"id": "d1", "title": "Passport", "kv": {"Nationality": "British"}}]}
    filled = engine.fill_form({"fields": ["Nationality"]}, library, provenance=True)
    origin = filled["Nationality"]["provenance"]
    assert origin["matched_key"] == "Nationality"
    assert "British" in origin["matched_text"]


def test_async_twins(engine: docsnap.Engine, letter_png: Path) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def run() -> tuple[dict, dict, dict]:
        ticker = asyncio.create_task(tick())
        try:
            return await asyncio.gather(
                engine.aocr(letter_png),
                engine.aprocess_document(letter_png),
                engine.aprocess_form(letter_png),
            )
        finally:
            ticker.cancel()

    page, doc, form = asyncio.run(run())
    assert page["text"] == engine.ocr(letter_png)["text"]
    assert doc == engine.process_document(letter_png)
    assert form == engine.process_form(letter_png)
    assert ticks >= 10, "the event loop was blocked"

    library = {"docs": [{"id": "d1", "title": "Passport", "kv": {"Nationality": "British"}}]}
    filled = asyncio.run(engine.afill_form({"fields": ["Nationality"]}, library))
    assert filled["Nationality"]["value"] == "British"


def test_settings_and_engine_pickle(tmp_path: Path) -> None:
    local = docsnap.OpenAICompatible(
        base_url="http://127.0.0.1:9/v1",
        model="m",
        api_key="key",
        timeout=7.5,
        json_mode=False,
        max_prompt_chars=5_000,
    )
    glm = docsnap.Zhipu(api_key="key", model="glm-4-flash", timeout=9, max_prompt_chars=6_000)
    engine = docsnap.Engine(llm=local, db_path=tmp_path / "cache.db", cache_max_age=60)

    for settings in (local, glm):
        copy = pickle.loads(pickle.dumps(settings))
        assert type(copy) is type(settings)
        assert repr(copy) == repr(settings)
        assert copy.max_prompt_chars == settings.max_prompt_chars
    restored = pickle.loads(pickle.dumps(engine))

    assert type(restored) is docsnap.Engine
    assert restored.db_path == engine.db_path
    assert restored.extractor == "llm:m"
    assert repr(restored.llm) == repr(local)
    assert pickle.loads(pickle.dumps(docsnap.Engine())).llm is None


def test_spawned_pool_maps_engine_method(engine: docsnap.Engine, letter_png: Path) -> None:
    expected = engine.ocr(letter_png)["text"]

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pages = pool.map(engine.ocr, [letter_png, letter_png])

    assert [page["text"] for page in pages] == [expected, expected]
