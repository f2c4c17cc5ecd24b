"""Fixtures shared by the docsnap tests: images, an engine, a docsnap-server
process and a fake OpenAI-compatible server, all on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import docsnap

REPO = Path(__file__).resolve().parents[2]
OCR_FIXTURES = REPO / "docsnap-core" / "tests" / "fixtures" / "ocr"

# The first lines of the letter fixture, as rendered.
LETTER_LINES = [
    "Application for a library card",
    "Name: Jane Example",
    "Date of birth: 14 March 1987",
    "Address: 12 Harbour Road, Leeds",
    "Phone: 0113 496 0123",
]


def render_page(lines: list[str], path: Path) -> Path:
    """Render black text lines on a white page with Pillow."""
    from PIL import Image, ImageDraw, ImageFont

    font_file = OCR_FIXTURES / "DejaVuSans.ttf"
    if font_file.exists():
        font: Any = ImageFont.truetype(str(font_file), 28)
    else:
        font = ImageFont.load_default(size=28)
    page = Image.new("RGB", (1000, 80 + 50 * len(lines)), "white")
    draw = ImageDraw.Draw(page)
    for index, line in enumerate(lines):
        draw.text((40, 40 + 50 * index), line, fill="black", font=font)
    page.save(path)
    return path


@pytest.fixture(scope="session")
def letter_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The letter fixture page, or a rendering of its first lines before the
    OCR fixtures exist."""
    fixture = OCR_FIXTURES / "letter.png"
    if fixture.exists():
        return fixture
    return render_page(LETTER_LINES, tmp_path_factory.mktemp("pages") / "letter.png")


@pytest.fixture(scope="session")
def engine() -> docsnap.Engine:
    """An engine with the rule extractor, shared because loading models is slow."""
    return docsnap.Engine()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll GET /readyz for up to 60 s, failing early if the server exits."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docsnap-server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"docsnap-server was not ready within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def server_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-data")


@contextlib.contextmanager
def running_server(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run a docsnap-server process on a free loopback port and yield its
    URL; its binary comes from DOCSNAP_SERVER or the shared cargo target
    directory."""
    binary = Path(
        os.environ.get("DOCSNAP_SERVER")
        or Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "docsnap-server"
    )
    if not binary.exists():
        pytest.fail(
            f"docsnap-server not found at {binary}: run `cargo build -p docsnap-http` "
            "or set DOCSNAP_SERVER"
        )

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        wait_until_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.fixture(scope="session")
def server_url(server_data_dir: Path) -> Iterator[str]:
    """A docsnap-server process on a free loopback port."""
    with running_server(server_data_dir) as url:
        yield url


# The bearer token of `token_server_url`.
SERVER_TOKEN = "test-bearer-token-0123456789"


@pytest.fixture(scope="session")
def token_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A docsnap-server process that requires the bearer token SERVER_TOKEN."""
    data_dir = tmp_path_factory.mktemp("token-server-data")
    with running_server(data_dir, {"DOCSNAP_BEARER_TOKEN": SERVER_TOKEN}) as url:
        yield url


class FakeChatServer:
    """An OpenAI-compatible `/chat/completions` endpoint on loopback that
    replies to every request with `answer` and records the requests."""

    def __init__(self, answer: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.answer = answer
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                fake.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send_error(404)
                    return
                content = json.dumps(fake.answer(body))
                reply = {
                    "id": f"chatcmpl-{len(fake.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", ""),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                }
                encoded = json.dumps(reply).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(encoded)))
                    self.end_headers()
                    self.wfile.write(encoded)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up on the request, as a cancelled call does.
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_chat() -> Iterator[Callable[[Callable[[dict[str, Any]], dict[str, Any]]], FakeChatServer]]:
    servers: list[FakeChatServer] = []

    def start(answer: Callable[[dict[str, Any]], dict[str, Any]]) -> FakeChatServer:
        server = FakeChatServer(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)
