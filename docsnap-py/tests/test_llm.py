"""The LLM extractor against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

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
    import asyncio

    server = fake_chat(lambda request: DOCUMENT_ANSWER)
    engine = docsnap.Engine(llm=docsnap.OpenAICompatible(base_url=server.base_url, model="fake-model"))

    doc = asyncio.run(engine.aprocess_document(letter_png))

    assert doc["title"] == "Library Card Application"
    assert "authorization" not in server.requests[0][0]
