"""Threads, fork() and Ctrl-C: the GIL is released and nothing deadlocks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import docsnap

from conftest import render_page


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


# The OCR helper tests find helper processes through /proc, so they run on Linux.
needs_fork_and_proc = pytest.mark.skipif(
    not hasattr(os, "fork") or not os.path.isdir("/proc/self"), reason="needs os.fork and /proc"
)

HELPER_PRELUDE = (
    FORK_PRELUDE
    + """
    import json, signal, warnings

    def helper_pids(parent):
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat_file:
                    stat = stat_file.read()
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline_file:
                    cmdline = cmdline_file.read()
            except OSError:
                continue
            parent_pid = int(stat.rsplit(b")", 1)[1].split()[1])
            if parent_pid == parent and b"docsnap._ocr_worker" in cmdline:
                pids.append(int(entry))
        return pids

    def running(pid):
        # An exited process stays a zombie until its parent reaps it.
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat_file:
                state = stat_file.read().rsplit(b")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        return state not in (b"Z", b"X")

    def wait_gone(pid, seconds=120):
        deadline = time.monotonic() + seconds
        while running(pid):
            if time.monotonic() > deadline:
                sys.exit(f"the OCR helper process {pid} still runs")
            time.sleep(0.05)

    def run_child(body):
        pid = os.fork()
        if pid == 0:
            try:
                body()
                os._exit(0)
            except BaseException as error:
                print("child failed:", repr(error), flush=True)
                os._exit(4)
        code = wait(pid)
        assert code == 0, code

    def report(**values):
        print("report:", json.dumps(values), flush=True)
"""
)


def reports(output: str) -> list[dict[str, Any]]:
    """Return the values each `report(...)` call in a script printed."""
    prefix = "report: "
    return [json.loads(line[len(prefix) :]) for line in output.splitlines() if line.startswith(prefix)]


@needs_fork_and_proc
def test_fork_after_ocr_runs_ocr(letter_png: Path) -> None:
    result = run_script(
        HELPER_PRELUDE
        + f"""
    engine = docsnap.Engine()
    expected = engine.ocr({str(letter_png)!r})["text"]

    def child():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            inherited = engine.ocr({str(letter_png)!r})["text"]
            fresh_engine = docsnap.Engine()
            fresh = fresh_engine.ocr([{str(letter_png)!r}, {str(letter_png)!r}])
        report(
            expected=expected,
            inherited=inherited,
            fresh=[page["text"] for page in fresh],
            indexes=[page["index"] for page in fresh],
            warnings=[str(w.message) for w in caught if w.category is RuntimeWarning],
            helpers=len(helper_pids(os.getpid())),
        )

    run_child(child)
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [child] = reports(result.stdout)

    assert "Jane" in child["expected"]
    assert child["inherited"] == child["expected"]
    assert child["fresh"] == [child["expected"]] * 2
    assert child["indexes"] == [0, 1]
    # One warning per process, although each engine started a helper.
    assert len(child["warnings"]) == 1, child["warnings"]
    assert "helper process" in child["warnings"][0]
    assert "fork" in child["warnings"][0]
    assert child["helpers"] == 2


@needs_fork_and_proc
def test_helper_shares_parent_cache(letter_png: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "cache.db"
    result = run_script(
        HELPER_PRELUDE
        + f"""
    engine = docsnap.Engine(db_path={str(db_path)!r})
    expected = engine.process_document({str(letter_png)!r})

    def child():
        warnings.simplefilter("ignore", RuntimeWarning)
        doc = engine.process_document({str(letter_png)!r})
        report(same=doc == expected, info=engine.cache_info(), helpers=helper_pids(os.getpid()))

    run_child(child)
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [child] = reports(result.stdout)

    assert child["same"]
    # The helper's engine has the parent's cache identity, so the child finds
    # the parent's result and starts no helper.
    assert child["info"]["hits"] == 1, child["info"]
    assert child["helpers"] == []


@needs_fork_and_proc
def test_fork_pool_after_ocr(letter_png: Path, tmp_path: Path) -> None:
    pages = [
        str(letter_png),
        str(render_page(["Invoice number 4471", "Total due: 120.50 EUR"], tmp_path / "invoice.png")),
        str(render_page(["Passport", "Surname: Example", "Nationality: British"], tmp_path / "id.png")),
        str(letter_png),
    ]
    result = run_script(
        HELPER_PRELUDE
        + f"""
    import multiprocessing

    engine = docsnap.Engine()
    pages = {pages!r}
    expected = [page["text"] for page in engine.ocr(pages)]

    def read(path):
        return engine.ocr(path)["text"], helper_pids(os.getpid())

    warnings.simplefilter("ignore", RuntimeWarning)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(read, pages, chunksize=1)
    helpers = sorted({{pid for _, pids in results for pid in pids}})
    for helper in helpers:
        wait_gone(helper)
    report(expected=expected, texts=[text for text, _ in results], helpers=helpers)
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [pool] = reports(result.stdout)

    assert pool["texts"] == pool["expected"]
    assert "4471" in pool["texts"][1]
    assert 1 <= len(pool["helpers"]) <= 2, pool["helpers"]


@needs_fork_and_proc
def test_helper_exits_with_child(letter_png: Path) -> None:
    result = run_script(
        HELPER_PRELUDE
        + f"""
    engine = docsnap.Engine()
    engine.ocr({str(letter_png)!r})

    read, write = os.pipe()

    def child():
        warnings.simplefilter("ignore", RuntimeWarning)
        engine.ocr({str(letter_png)!r})
        os.write(write, json.dumps(helper_pids(os.getpid())).encode())

    # run_child ends the child with os._exit, which drops no engine, like a
    # worker process that is killed.
    run_child(child)
    helpers = json.loads(os.read(read, 65536))
    for helper in helpers:
        wait_gone(helper)
    report(helpers=helpers)
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [parent] = reports(result.stdout)
    assert len(parent["helpers"]) == 1, parent["helpers"]


@needs_fork_and_proc
def test_helper_exits_with_engine(letter_png: Path) -> None:
    result = run_script(
        HELPER_PRELUDE
        + f"""
    import gc

    docsnap.Engine().ocr({str(letter_png)!r})

    def child():
        warnings.simplefilter("ignore", RuntimeWarning)
        engine = docsnap.Engine()
        engine.ocr({str(letter_png)!r})
        [helper] = helper_pids(os.getpid())
        del engine
        gc.collect()
        wait_gone(helper)
        report(helper=helper)

    run_child(child)
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(reports(result.stdout)) == 1


@needs_fork_and_proc
def test_killed_helper_fails_once(letter_png: Path) -> None:
    result = run_script(
        HELPER_PRELUDE
        + f"""
    engine = docsnap.Engine()
    expected = engine.ocr({str(letter_png)!r})["text"]

    def child():
        warnings.simplefilter("ignore", RuntimeWarning)
        engine.ocr({str(letter_png)!r})
        [killed] = helper_pids(os.getpid())
        os.kill(killed, signal.SIGKILL)
        wait_gone(killed)
        try:
            engine.ocr({str(letter_png)!r})
            failure = None
        except docsnap.OcrError as error:
            failure = str(error)
        again = engine.ocr({str(letter_png)!r})["text"]
        report(
            killed=killed,
            failure=failure,
            same_text=again == expected,
            helpers=helper_pids(os.getpid()),
        )

    run_child(child)
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [child] = reports(result.stdout)

    assert child["failure"] is not None, "OCR with a killed helper succeeded"
    assert f"pid {child['killed']}" in child["failure"]
    assert "killed by signal 9" in child["failure"]
    assert "next OCR call starts a new helper" in child["failure"]
    assert child["same_text"]
    assert len(child["helpers"]) == 1
    assert child["helpers"] != [child["killed"]]


@needs_fork_and_proc
def test_helper_start_failure_names_cause(letter_png: Path) -> None:
    result = run_script(
        HELPER_PRELUDE
        + f"""
    docsnap.Engine().ocr({str(letter_png)!r})

    def attempt():
        engine = docsnap.Engine()
        try:
            engine.ocr({str(letter_png)!r})
            return None, engine
        except docsnap.OcrError as error:
            return str(error), engine

    def child():
        warnings.simplefilter("ignore", RuntimeWarning)
        sys.executable = ""
        empty, engine = attempt()
        filled = engine.fill_form({{"fields": ["Name"]}}, {{"docs": []}})
        sys.executable = "/bin/sh"
        shell, _ = attempt()
        report(empty=empty, filled=filled, shell=shell)

    run_child(child)
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [child] = reports(result.stdout)

    assert child["empty"] is not None
    assert "sys.executable is empty" in child["empty"]
    assert '"spawn" or "forkserver"' in child["empty"]
    # Calls that need no OCR still work without a helper.
    assert child["filled"] == {}
    # The shell rejects `-m docsnap._ocr_worker`, and the error quotes it.
    assert child["shell"] is not None
    assert "stopped before it was ready" in child["shell"]
    assert "exited with status" in child["shell"]
    assert "Its stderr ended with:\n/bin/sh" in child["shell"]


@needs_fork_and_proc
def test_ctrl_c_in_child_stops_helper(letter_png: Path) -> None:
    result = run_script(
        HELPER_PRELUDE
        + f"""
    engine = docsnap.Engine()
    expected = engine.ocr({str(letter_png)!r})["text"]

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            engine.ocr([{str(letter_png)!r}] * 30)
            outcome = "finished"
        except KeyboardInterrupt:
            outcome = "interrupted"
        except BaseException as error:
            outcome = repr(error)
        again = engine.ocr({str(letter_png)!r})["text"]
        helpers = helper_pids(os.getpid())
        os.write(write, json.dumps([outcome, helpers, again == expected]).encode())
        os._exit(0)
    os.close(write)

    # The child's helper starts inside the call, so the call is running.
    deadline = time.monotonic() + 120
    while not helper_pids(pid):
        assert time.monotonic() < deadline, "the child started no helper"
        time.sleep(0.05)
    [first_helper] = helper_pids(pid)
    os.kill(pid, signal.SIGINT)
    code = wait(pid)
    outcome, helpers_after, same_text = json.loads(os.read(read, 65536))
    wait_gone(first_helper)
    report(code=code, outcome=outcome, first=first_helper, after=helpers_after, same_text=same_text)
    """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [run] = reports(result.stdout)

    assert run["code"] == 0
    assert run["outcome"] == "interrupted"
    # The parent script also waited until the first helper was gone.
    assert len(run["after"]) == 1
    assert run["first"] not in run["after"]
    assert run["same_text"]


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


def test_log_handler_may_call_engine(letter_png: Path) -> None:
    # docsnap logs while it builds an engine; a handler that calls the engine
    # from another thread and waits for it must find the engine usable.
    result = run_script(
        f"""
        import logging, threading, docsnap

        engine = docsnap.Engine()
        texts = []

        class CallEngine(logging.Handler):
            def emit(self, record):
                if texts or threading.active_count() > 1:
                    return
                worker = threading.Thread(target=lambda: texts.append(engine.ocr({str(letter_png)!r})["text"]))
                worker.start()
                # Waiting releases the GIL, so the worker runs meanwhile.
                worker.join(1)

        logger = logging.getLogger("docsnap")
        logger.setLevel(logging.INFO)
        logger.addHandler(CallEngine())
        first = engine.ocr({str(letter_png)!r})["text"]
        for thread in threading.enumerate():
            if thread is not threading.current_thread():
                thread.join()
        print("same text:", texts == [first])
        """,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "same text: True" in result.stdout
