"""docsnap.Client against a real docsnap-server process on loopback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

import docsnap

from conftest import SERVER_TOKEN


def wait_for_result(client: docsnap.Client, task: docsnap.Task, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = client.poll(task)
        if result is not None:
            return result
        time.sleep(0.2)
    pytest.fail(f"{task!r} was still processing after {seconds} s")


def test_process_document(server_url: str, letter_png: Path) -> None:
    client = docsnap.Client(server_url)

    doc = client.process("doc", images=[letter_png], timeout=120)

    assert set(doc) == {"title", "tags", "description", "kv", "related"}
    assert any("Jane Example" in value for value in doc["kv"].values()), doc["kv"]


def test_public_key_fetched(server_url: str, server_data_dir: Path) -> None:
    client = docsnap.Client(server_url)
    key_file = server_data_dir / "server_key.pub.pem"
    assert client.public_key_pem.strip() == key_file.read_text().strip()
    assert client.cipher == "A256GCM"
    assert len(client.client_id) == 36


def test_cbc_and_given_key(server_url: str, server_data_dir: Path, letter_png: Path) -> None:
    pem = (server_data_dir / "server_key.pub.pem").read_text()
    client = docsnap.Client(server_url + "/", public_key_pem=pem, client_id="cbc-client", cipher="CBC")

    form = client.process("form", images=letter_png)

    assert client.url == server_url
    assert "Form Type" in form["kv"]
    assert isinstance(form["fields"], list)


def test_submit_poll_clear(server_url: str, letter_png: Path) -> None:
    client = docsnap.Client(server_url)

    task = client.submit("doc", images=letter_png.read_bytes())
    assert task.kind == "doc"
    assert task.cipher == "A256GCM"
    assert len(task.sha256) == 64
    assert task.client_id == client.client_id
    result = wait_for_result(client, task)
    assert result["title"]

    assert client.clear(task) == 1
    with pytest.raises(docsnap.TaskNotFound) as raised:
        client.poll(task)
    assert raised.value.code == "TASK_NOT_FOUND"


def test_clear_all(server_url: str, letter_png: Path) -> None:
    client = docsnap.Client(server_url)
    first = client.submit("doc", images=letter_png)
    second = client.submit("form", images=letter_png)
    wait_for_result(client, first)
    wait_for_result(client, second)

    assert client.clear() == 2
    assert client.clear() == 0


def test_fill_through_server(server_url: str) -> None:
    client = docsnap.Client(server_url)
    library = {"doc": [{"id": "d1", "title": "Passport", "kv": {"Nationality": "British"}}]}

    filled = client.process("fill", form={"fields": ["Nationality"]}, file_lib=library)

    assert filled == {"Nationality": {"value": "British", "source": {"type": "doc", "resource_id": "d1"}}}


def test_failed_task_raises_its_class(server_url: str) -> None:
    client = docsnap.Client(server_url)
    with pytest.raises(docsnap.DocsnapError) as raised:
        client.process("doc", images=b"these bytes are not an image")
    assert raised.value.code in {"INVALID_IMAGE", "OCR_FAILURE"}


def test_argument_errors(server_url: str, letter_png: Path) -> None:
    client = docsnap.Client(server_url)
    with pytest.raises(ValueError, match="'kind'"):
        client.process("scan", images=letter_png)
    with pytest.raises(TypeError, match="'form'"):
        client.submit("fill", images=letter_png)
    with pytest.raises(TypeError, match="'images'"):
        client.submit("doc", form={"fields": []})
    with pytest.raises(ValueError, match="'timeout'"):
        client.process("doc", images=letter_png, timeout=0)
    with pytest.raises(ValueError, match="'cipher'"):
        docsnap.Client(server_url, cipher="ROT13")
    with pytest.raises(ValueError, match="'url'"):
        docsnap.Client("ftp://127.0.0.1")
    with pytest.raises(docsnap.InvalidConfig):
        docsnap.Client(server_url, public_key_pem="not a key")


def test_unreachable_server_raises_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionError):
        docsnap.Client(f"http://127.0.0.1:{port}")


def test_timeout_bounds_unanswered_request(server_url: str, server_data_dir: Path) -> None:
    pem = (server_data_dir / "server_key.pub.pem").read_text()
    with socket.socket() as silent:
        # The kernel queues connections in the backlog, and nothing ever
        # reads the request or responds to it.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = docsnap.Client(f"http://127.0.0.1:{silent.getsockname()[1]}", public_key_pem=pem)

        with pytest.raises(TimeoutError) as raised:
            client.process("fill", form={"fields": ["Name"]}, timeout=1)

    assert "had no result after 1.0 s" in str(raised.value)
    assert "'timeout'" in str(raised.value)


def test_token_reaches_protected_server(token_server_url: str) -> None:
    client = docsnap.Client(token_server_url, token=SERVER_TOKEN)

    library = {"docs": [{"id": "d1", "kv": {"Nationality": "British"}}]}

    filled = client.process("fill", form={"fields": ["Nationality"]}, file_lib=library)

    assert filled["Nationality"]["value"] == "British"
    assert client.clear() == 0
    assert SERVER_TOKEN not in repr(client)


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_token_names_fix(token_server_url: str, token: str | None) -> None:
    client = docsnap.Client(token_server_url, token=token)

    with pytest.raises(docsnap.DocsnapError) as raised:
        client.process("fill", form={"fields": ["Nationality"]})
    with pytest.raises(docsnap.DocsnapError) as cleared:
        client.clear()

    for error in (raised.value, cleared.value):
        assert "HTTP 401" in str(error)
        assert "bearer token" in str(error)
        assert "token=" in str(error)


def test_token_with_newline_raises() -> None:
    with pytest.raises(ValueError, match="'token'"):
        docsnap.Client("http://127.0.0.1:9", public_key_pem="unused", token="a\nb")


def test_longest_timeout_is_accepted(server_url: str) -> None:
    client = docsnap.Client(server_url)

    # Seconds just below 2**64, beyond what the monotonic clock can add.
    filled = client.process("fill", form={"fields": ["Name"]}, timeout=1.8e19)

    assert filled == {}
