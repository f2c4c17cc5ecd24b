"""Exception classes and argument errors."""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
import textwrap
import types
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


@pytest.mark.parametrize("key", ["", "   "])
def test_empty_zhipu_key_raises(key: str) -> None:
    with pytest.raises(ValueError, match="'api_key' is empty"):
        docsnap.Zhipu(api_key=key)


def test_llm_repr_hides_key() -> None:
    settings = docsnap.OpenAICompatible(base_url="http://127.0.0.1:9/v1", model="m", api_key="secret-key")
    assert "secret-key" not in repr(settings)
    assert "secret-key" not in repr(docsnap.Zhipu(api_key="secret-key"))


def test_llm_repr_hides_url_credentials() -> None:
    settings = docsnap.OpenAICompatible(
        base_url="http://proxy-user:secret-pass@127.0.0.1:9/v1", model="m"
    )

    assert "secret-pass" not in repr(settings)
    assert "proxy-user" not in repr(settings)
    assert "127.0.0.1:9/v1" in repr(settings)
    assert settings.base_url == "http://proxy-user:secret-pass@127.0.0.1:9/v1"


def test_string_is_not_a_list(engine: docsnap.Engine) -> None:
    library = {"docs": [{"resource_id": "p1", "title": "Passport", "kv": {"N": "British"}}]}

    # A str is a Python sequence, but JSON and the protocol never read one
    # as a list of its characters.
    with pytest.raises(ValueError, match="invalid 'form'") as raised:
        engine.fill_form({"fields": "Nationality"}, library)
    assert "expected a sequence" in str(raised.value)
    with pytest.raises(ValueError, match="invalid 'file_lib'"):
        engine.fill_form({"fields": ["N"]}, {"docs": [{"resource_id": "p1", "fields": "N"}]})


def test_mapping_values_convert_like_json(engine: docsnap.Engine) -> None:
    library = {
        "docs": (
            types.MappingProxyType({"resource_id": 7, "kv": {"Age": 42, "Name": "Jane"}}),
        )
    }

    filled = engine.fill_form({"fields": ("Age",)}, library)

    assert filled == {"Age": {"value": "42", "source": {"type": "doc", "resource_id": "7"}}}
    with pytest.raises(ValueError, match="invalid 'file_lib'.*date"):
        engine.fill_form({"fields": ["Age"]}, {"docs": [{"id": "x", "kv": {"Age": datetime.date.today()}}]})
    with pytest.raises(ValueError, match="invalid 'file_lib'.*keys must be str"):
        engine.fill_form({"fields": ["Age"]}, {"docs": [{"id": "x", "kv": {1: "a"}}]})


def test_deep_nesting_raises_value_error(tmp_path: Path) -> None:
    # Run in a fresh interpreter, because a stack overflow ends the process.
    script = textwrap.dedent(
        """
        import docsnap
        value = "v"
        for _ in range(100_000):
            value = [value]
        library = {"docs": [{"resource_id": "x", "kv": {"Age": value}}]}
        try:
            docsnap.Engine().fill_form({"fields": ["Age"]}, library)
        except ValueError as error:
            print("raised:", error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "raised: invalid 'file_lib'" in result.stdout
    assert "nested more than 128 levels" in result.stdout
