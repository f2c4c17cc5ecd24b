"""Exception classes and argument errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import docsnap
from docsnap import _docsnap


def test_every_code_has_class() -> None:
    codes = _docsnap._error_codes()
    classes = {
        name: value
        for name, value in vars(docsnap).items()
        if isinstance(value, type) and issubclass(value, docsnap.DocsnapError)
        and value is not docsnap.DocsnapError
    }
    by_code = {cls.code: cls for cls in classes.values()}

    assert len(codes) == len(set(codes))
    assert set(by_code) == set(codes)
    assert len(by_code) == len(classes), "two classes share a code"


def test_classes_are_exported() -> None:
    for code in _docsnap._error_codes():
        matching = [
            name for name in docsnap.__all__
            if isinstance(getattr(docsnap, name), type)
            and getattr(getattr(docsnap, name), "code", None) == code
        ]
        assert len(matching) == 1, code


def test_hierarchy() -> None:
    assert issubclass(docsnap.DocsnapError, Exception)
    assert docsnap.DocsnapError.code is None
    for cls in (docsnap.InvalidImage, docsnap.OcrError, docsnap.LlmError,
                docsnap.TaskNotFound, docsnap.Sha256Mismatch):
        assert issubclass(cls, docsnap.DocsnapError)
        assert cls.__module__ == "docsnap"


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (docsnap.InvalidImage, "INVALID_IMAGE"),
        (docsnap.OcrError, "OCR_FAILURE"),
        (docsnap.LlmError, "LLM_FAILURE"),
        (docsnap.TaskNotFound, "TASK_NOT_FOUND"),
        (docsnap.Sha256Mismatch, "SHA256_MISMATCH"),
        (docsnap.DatabaseError, "DATABASE_ERROR"),
        (docsnap.ProcessingTimeout, "PROCESSING_TIMEOUT"),
    ],
)
def test_class_code(cls: type[docsnap.DocsnapError], code: str) -> None:
    assert cls.code == code
    assert cls("message").code == code


def test_undecodable_image_raises(engine: docsnap.Engine) -> None:
    with pytest.raises(docsnap.InvalidImage) as raised:
        engine.ocr(b"these bytes are not an image")
    assert raised.value.code == "INVALID_IMAGE"
    assert isinstance(raised.value, docsnap.DocsnapError)


def test_missing_file_raises(engine: docsnap.Engine, tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(FileNotFoundError) as raised:
        engine.ocr(missing)
    assert raised.value.filename == str(missing)


def test_directory_raises_oserror(engine: docsnap.Engine, tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        engine.ocr(str(tmp_path))


def test_wrong_type_names_argument(engine: docsnap.Engine) -> None:
    with pytest.raises(TypeError, match="'images'"):
        engine.ocr(42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"'images\[1\]'"):
        engine.process_document([b"x", 3.5])  # type: ignore[list-item]


def test_text_file_object_raises(engine: docsnap.Engine) -> None:
    with pytest.raises(TypeError, match="binary mode"):
        engine.ocr(io.StringIO("text"))  # type: ignore[call-overload]


def test_empty_list_raises(engine: docsnap.Engine) -> None:
    with pytest.raises(ValueError, match="empty"):
        engine.process_document([])


def test_file_lib_must_be_dict(engine: docsnap.Engine) -> None:
    with pytest.raises(TypeError, match="'file_lib'"):
        engine.fill_form({"fields": ["Name"]}, ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'form'"):
        engine.fill_form("Name", {})  # type: ignore[arg-type]


def test_invalid_file_lib_raises_value_error(engine: docsnap.Engine) -> None:
    with pytest.raises(ValueError, match="'file_lib'"):
        engine.fill_form({"fields": ["Name"]}, {"docs": [{"id": ["a", "list"]}]})


def test_llm_argument_type(engine: docsnap.Engine) -> None:
    with pytest.raises(TypeError, match="'llm'"):
        docsnap.Engine(llm="gpt-4o")  # type: ignore[arg-type]


def test_invalid_llm_settings() -> None:
    with pytest.raises(docsnap.InvalidConfig):
        docsnap.OpenAICompatible(base_url="not a url", model="m")
    with pytest.raises(ValueError, match="'timeout'"):
        docsnap.Zhipu(api_key="k", timeout=-1)


def test_llm_repr_hides_key() -> None:
    settings = docsnap.OpenAICompatible(base_url="http://127.0.0.1:9/v1", model="m", api_key="secret-key")
    assert "secret-key" not in repr(settings)
    assert "secret-key" not in repr(docsnap.Zhipu(api_key="secret-key"))
