"""The README's examples, the type stubs and the docstrings."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import docsnap

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(python_blocks()) >= 5


def test_readme_examples_run(
    server_url: str, letter_png: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(letter_png, tmp_path / "letter.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCSNAP_URL", server_url)
    namespace: dict[str, object] = {"__name__": "readme"}

    for index, block in enumerate(python_blocks()):
        try:
            exec(compile(block, f"README.md python block {index + 1}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"README python block {index + 1} failed: {error!r}\n{block}")


def test_stubs_match_runtime() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "docsnap"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stubs_type_check_usage(tmp_path: Path) -> None:
    usage = tmp_path / "usage.py"
    usage.write_text(
        "from typing import Any\n"
        "import docsnap\n"
        "engine = docsnap.Engine()\n"
        "page: dict[str, Any] = engine.ocr('letter.png')\n"
        "pages: list[dict[str, Any]] = engine.ocr(['letter.png'])\n"
        "doc = engine.process_document(b'', {'docs': []}, provenance=True)\n"
        "client = docsnap.Client('http://127.0.0.1:8000', cipher='CBC')\n"
        "task: docsnap.Task = client.submit('doc', images=[b''])\n"
        "code: str = docsnap.InvalidImage.code\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(usage)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def public_items() -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = [("docsnap", docsnap)]
    for name in docsnap.__all__:
        value = getattr(docsnap, name)
        if name == "__version__":
            continue
        items.append((name, value))
        if isinstance(value, type) and not issubclass(value, BaseException):
            for member, attribute in vars(value).items():
                if not member.startswith("_"):
                    items.append((f"{name}.{member}", attribute))
    return items


@pytest.mark.parametrize(("name", "item"), public_items(), ids=lambda value: str(value)[:40])
def test_public_item_has_docstring(name: str, item: object) -> None:
    assert inspect.getdoc(item), f"{name} has no docstring"


def test_py_typed_installed() -> None:
    assert (Path(docsnap.__file__).parent / "py.typed").exists()
    assert (Path(docsnap.__file__).parent / "_docsnap.pyi").exists()
    assert os.path.basename(docsnap._docsnap.__file__).startswith("_docsnap")
