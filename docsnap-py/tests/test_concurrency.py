"""Threads, fork() and Ctrl-C: the GIL is released and nothing deadlocks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import docsnap


def test_threads_run_without_gil(engine: docsnap.Engine, letter_png: Path) -> None:
    data = letter_png.read_bytes()
    expected = engine.ocr(data)["text"]
    results: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()
    counts = [0]

    def count() -> None:
        while not stop.is_set():
            counts[0] += 1

    def read() -> None:
        try:
            results.append(engine.ocr(data)["text"])
        except BaseException as error:  # reported below
            failures.append(error)

    counter = threading.Thread(target=count)
    counter.start()
    readers = [threading.Thread(target=read) for _ in range(4)]
    before = counts[0]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=300)
    during = counts[0] - before
    stop.set()
    counter.join()

    assert not failures, failures
    assert results == [expected] * 4
    # A held GIL would freeze the counting thread for the whole OCR call,
    # which takes over a second per page.
    assert during > 100_000, f"the counting thread ran only {during} times"


def run_script(script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `script` in a fresh interpreter, so no earlier test has run OCR in it."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


FORK_PRELUDE = """
    import os, sys, time, docsnap

    def wait(pid, seconds=240):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        sys.exit("the forked child hung")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_runs_ocr(letter_png: Path) -> None:
    result = run_script(
        FORK_PRELUDE
        + f"""
    pid = os.fork()
    if pid == 0:
        try:
            text = docsnap.Engine().ocr({str(letter_png)!r})["text"]
            os._exit(0 if "Jane" in text else 3)
        except BaseException as error:
            print("child failed:", repr(error), flush=True)
            os._exit(4)
    code = wait(pid)
    assert code == 0, code
    print("parent ok:", "Jane" in docsnap.Engine().ocr({str(letter_png)!r})["text"])
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "parent ok: True" in result.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_engine_created_before_fork_works(letter_png: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "cache.db"
    result = run_script(
        FORK_PRELUDE
        + f"""
    engine = docsnap.Engine(db_path={str(db_path)!r})
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            try:
                doc = engine.process_document({str(letter_png)!r})
                os._exit(0 if doc["title"] else 3)
            except BaseException as error:
                print("child failed:", repr(error), flush=True)
                os._exit(4)
        children.append(pid)
    codes = [wait(pid) for pid in children]
    assert codes == [0, 0], codes
    engine.process_document({str(letter_png)!r})
    print("parent info:", engine.cache_info())
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The parent finds what its children stored, so it needs no OCR.
    assert "'entries': 1, 'hits': 1, 'misses': 0" in result.stdout, result.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_after_ocr_raises(letter_png: Path) -> None:
    result = run_script(
        FORK_PRELUDE
        + f"""
    engine = docsnap.Engine()
    engine.ocr({str(letter_png)!r})
    pid = os.fork()
    if pid == 0:
        attempts = (
            lambda: engine.ocr({str(letter_png)!r}),
            lambda: docsnap.Engine().ocr({str(letter_png)!r}),
        )
        for attempt in attempts:
            try:
                attempt()
                os._exit(3)
            except RuntimeError as error:
                if "fork" not in str(error):
                    os._exit(4)
            except BaseException:
                os._exit(5)
        os._exit(0)
    code = wait(pid)
    assert code == 0, code
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_uses_client(server_url: str) -> None:
    result = run_script(
        FORK_PRELUDE
        + f"""
    client = docsnap.Client({server_url!r})
    client.clear()
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if client.clear() == 0 else 3)
        except BaseException as error:
            print("child failed:", repr(error), flush=True)
            os._exit(4)
    code = wait(pid)
    assert code == 0, code
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ctrl_c_interrupts_call() -> None:
    with socket.socket() as silent:
        # A server that accepts connections and never responds.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(60)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(
                    f"""
                    import docsnap
                    print("started", flush=True)
                    try:
                        docsnap.Client({url!r})
                    except KeyboardInterrupt:
                        print("interrupted", flush=True)
                    """
                ),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "started"
        connection, _ = silent.accept()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        connection.close()

    assert "interrupted" in output
    assert process.returncode == 0
