"""The LLM extractor against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

import docsnap

DOCUMENT_ANSWER = {
    "title": "Library Card Application",
    "tags": ["library", "application"],
    "description": "An application for a library card.",
    "kv": {"Full Name (English/Latin)": "Jane Example", "Address (Full)": "12 Harbour Road, Leeds"},
    "related": [],
}


def test_document_through_fake_llm(fake_chat: Any, letter_png: Path) -> None:
    server = fake_chat(lambda request: DOCUMENT_ANSWER)
    settings = docsnap.OpenAICompatible(base_url=server.base_url, model="fake-model", api_key="test-key")
    engine = docsnap.Engine(llm=settings)

    doc = engine.process_document(letter_png)

    assert doc["title"] == "Library Card Application"
    assert doc["kv"]["Full Name (English/Latin)"] == "Jane Example"
    assert server.requests, "the fake server received no request"
    headers, body = server.requests[0]
    assert headers["authorization"] == "Bearer test-key"
    assert body["model"] == "fake-model"
    prompt = "\n".join(message["content"] for message in body["messages"])
    assert "Jane Example" in prompt
    assert engine.extractor.startswith("llm")
    assert engine.llm is not None and engine.llm.model == "fake-model"


def test_unusable_answers_raise_llm_error(fake_chat: Any, letter_png: Path) -> None:
    server = fake_chat(lambda request: {"unexpected": "shape"})
    engine = docsnap.Engine(llm=docsnap.OpenAICompatible(base_url=server.base_url, model="fake-model"))

    with pytest.raises(docsnap.LlmError) as raised:
        engine.process_document(letter_png)

    assert raised.value.code == "LLM_FAILURE"
    assert len(server.requests) >= 2, "the extractor did not ask again"


def test_async_document_through_fake_llm(fake_chat: Any, letter_png: Path) -> None:
    server = fake_chat(lambda request: DOCUMENT_ANSWER)
    engine = docsnap.Engine(llm=docsnap.OpenAICompatible(base_url=server.base_url, model="fake-model"))

    doc = asyncio.run(engine.aprocess_document(letter_png))

    assert doc["title"] == "Library Card Application"
    assert "authorization" not in server.requests[0][0]


def test_long_prompt_fits_budget(fake_chat: Any, letter_png: Path) -> None:
    server = fake_chat(lambda request: DOCUMENT_ANSWER)
    settings = docsnap.OpenAICompatible(
        base_url=server.base_url, model="fake-model", max_prompt_chars=2_000
    )
    library = {
        "docs": [
            {"resource_id": f"doc-{n}", "title": f"Receipt {n}", "kv": {"Total": f"{n}.00 GBP"}}
            for n in range(300)
        ]
    }

    doc = docsnap.Engine(llm=settings).process_document([letter_png, letter_png], library)

    assert doc["title"] == "Library Card Application"
    assert settings.max_prompt_chars == 2_000
    _, body = server.requests[0]
    user_prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    assert len(user_prompt) <= 2_000
    assert "--- page 2 ---" in user_prompt


def test_tiny_prompt_budget_is_rejected() -> None:
    with pytest.raises(docsnap.InvalidConfig, match="max_prompt_chars"):
        docsnap.Zhipu(api_key="key", max_prompt_chars=10)
    with pytest.raises(ValueError, match="max_prompt_chars"):
        docsnap.OpenAICompatible(base_url="http://127.0.0.1:9/v1", model="m", max_prompt_chars=-1)


def test_cancelled_async_call_stops(fake_chat: Any, letter_png: Path) -> None:
    release = threading.Event()
    outlived: list[bool] = []

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        # The model "thinks" until the test releases it; a call that is
        # still waiting for it after 60 s was not cancelled.
        if not release.wait(60):
            outlived.append(True)
        return DOCUMENT_ANSWER

    server = fake_chat(answer)
    engine = docsnap.Engine(llm=docsnap.OpenAICompatible(base_url=server.base_url, model="fake-model"))
    engine.ocr(letter_png)

    async def cancel_mid_call() -> None:
        call = asyncio.create_task(engine.aprocess_document(letter_png))
        while not server.requests:
            await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    # asyncio.run returns only after its worker threads finished, so a call
    # that kept waiting for the model would hold it until the model responded.
    asyncio.run(cancel_mid_call())
    release.set()

    assert outlived == []
    assert len(server.requests) == 1
