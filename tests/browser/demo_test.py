#!/usr/bin/env python3
"""End-to-end test of the docsnap-server demo page in headless Chromium.

Starts a real docsnap-server on a free loopback port, drives the page with
Selenium and checks what it sends and what it shows. Prints "N passed,
N failed" and exits non-zero on any failure.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DOCSNAP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DOCSNAP_CHROMEDRIVER", "/usr/bin/chromedriver")

# Bounds, in seconds. The server's first start generates an RSA key pair.
SERVER_START_TIMEOUT = 120
RUN_TIMEOUT = 120
# The page gives up polling a little before the test stops waiting, so a stuck
# task shows the page's own message rather than a test timeout.
PAGE_DEADLINE = RUN_TIMEOUT - 10

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these flags Chromium opens connections to Google's hosts, which a
    # closed network refuses, many at a time.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1700",
]

# Wraps window.fetch so the test can read every request the page sends and
# the JSON reply it got. The page calls the global `fetch` at request time.
FETCH_RECORDER_JS = """
window.__docsnapRequests = [];
const originalFetch = window.fetch.bind(window);
window.fetch = async (url, options) => {
  const entry = {
    url: String(url),
    method: (options && options.method) || "GET",
    body: options && options.body ? JSON.parse(options.body) : null,
    headers: (options && options.headers) || {},
  };
  window.__docsnapRequests.push(entry);
  const response = await originalFetch(url, options);
  entry.httpStatus = response.status;
  try { entry.reply = await response.clone().json(); } catch (_) { entry.reply = null; }
  return response;
};
"""


@dataclass
class Context:
    """State shared by the steps, which run in order."""

    base_url: str
    driver: webdriver.Chrome
    image: Path
    work_dir: Path
    screenshots: list[Path] = field(default_factory=list)
    form_result: dict[str, Any] | None = None


# ---- Setup -------------------------------------------------------------------


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_binary() -> Path:
    default = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target")) / "debug" / "docsnap-server"
    binary = Path(os.environ.get("DOCSNAP_SERVER_BIN", default))
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    if not os.access(binary, os.X_OK):
        raise RuntimeError(
            f"docsnap-server not found at {binary}: build it with "
            "`cargo build -p docsnap-http` or set DOCSNAP_SERVER_BIN"
        )
    return binary


def start_server(
    work_dir: Path, name: str = "server", extra_args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Starts docsnap-server on a free port and waits until /check_status returns 200.

    The server keeps its task store and key pair in `{name}-data` and logs to `{name}.log`.
    """
    port = free_loopback_port()
    data_dir = work_dir / f"{name}-data"
    data_dir.mkdir()
    log_path = work_dir / f"{name}.log"

    # Drop inherited DOCSNAP_* settings so the server runs offline on its
    # defaults (rule extractor, bundled OCR models) whatever the caller set.
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOCSNAP_")}
    env.setdefault("RUST_LOG", "info")
    command = [str(server_binary()), "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir), *extra_args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)

    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docsnap-server exited with code {process.returncode}; log: {log_path}")
        try:
            with urllib.request.urlopen(base_url + "/check_status", timeout=2) as response:
                if response.status == 200:
                    return process, base_url, log_path
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"docsnap-server did not answer /check_status within {SERVER_START_TIMEOUT} s; log: {log_path}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start_browser(work_dir: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={work_dir / 'chromium-profile'}")
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def render_form_image(path: Path) -> Path:
    """Renders a small blank form, for when no fixture image is available."""
    from PIL import Image, ImageDraw, ImageFont

    lines = [
        "APPLICATION FOR A LIBRARY CARD",
        "Branch: Sampletown Central Library",
        "",
        "Full Name: ______________________",
        "Date of Birth: __________________",
        "Nationality: ____________________",
        "Phone Number: ___________________",
        "Signature: ______________________",
    ]
    image = Image.new("RGB", (1400, 900), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    for index, line in enumerate(lines):
        draw.text((80, 80 + index * 95), line, fill="black", font=font)
    image.save(path)
    return path


def pick_image(work_dir: Path) -> Path:
    """Picks the page image: DOCSNAP_DEMO_IMAGE, a form fixture, a rendered form or any OCR fixture.

    A form page comes before other fixtures because only a form gives the fill step fields to fill.
    """
    chosen = os.environ.get("DOCSNAP_DEMO_IMAGE")
    if chosen:
        return Path(chosen).resolve()

    fixtures = sorted(glob.glob(str(REPO_ROOT / "docsnap-core/tests/fixtures/ocr/*.png")))
    forms = [path for path in fixtures if "form" in Path(path).name.lower()]
    if forms:
        return Path(forms[0])
    try:
        return render_form_image(work_dir / "rendered-form.png")
    except ImportError:
        if fixtures:
            return Path(fixtures[0])
        raise


# ---- Page helpers ------------------------------------------------------------


def page_state(ctx: Context) -> str:
    return ctx.driver.execute_script("return document.body.dataset.state")


def status_text(ctx: Context) -> str:
    return ctx.driver.find_element(By.ID, "status").text


def requests_sent(ctx: Context) -> list[dict[str, Any]]:
    return ctx.driver.execute_script("return window.__docsnapRequests")


def process_requests(ctx: Context, since: int) -> list[dict[str, Any]]:
    return [entry for entry in requests_sent(ctx)[since:] if entry["url"].endswith("/process")]


def choose_files(ctx: Context, *paths: Path) -> None:
    file_input = ctx.driver.find_element(By.ID, "file")
    ctx.driver.execute_script("arguments[0].value = ''", file_input)
    file_input.send_keys("\n".join(str(path) for path in paths))


def run_and_wait(ctx: Context, button_id: str, statuses: list[str] | None = None) -> str:
    """Clicks a button and waits until the page reports done or error; returns the state.

    Appends each status line seen while waiting to `statuses`, if given.
    """

    def finished(_: webdriver.Chrome) -> bool:
        if statuses is not None:
            statuses.append(status_text(ctx))
        return page_state(ctx) in ("done", "error")

    # Reset first, so a "done" left by the previous step is not taken for this one.
    ctx.driver.execute_script("document.body.dataset.state = 'idle'")
    ctx.driver.find_element(By.ID, button_id).click()
    try:
        WebDriverWait(ctx.driver, RUN_TIMEOUT, poll_frequency=0.5).until(finished)
    except TimeoutException:
        raise AssertionError(f"page did not finish within {RUN_TIMEOUT} s; status: {status_text(ctx)!r}") from None
    return page_state(ctx)


def result_json(ctx: Context) -> Any:
    text = ctx.driver.execute_script("return document.getElementById('result-json').textContent")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AssertionError(f"#result-json is not JSON ({error}): {text[:200]!r}") from None


def table_caption(ctx: Context) -> str:
    return ctx.driver.find_element(By.CSS_SELECTOR, "#result-table caption").text


def save_screenshot(ctx: Context, name: str) -> None:
    path = ctx.work_dir / f"{name}.png"
    ctx.driver.save_screenshot(str(path))
    ctx.screenshots.append(path)


def decoded_length(text: str) -> int:
    return len(base64.b64decode(text, validate=True))


# ---- Steps -------------------------------------------------------------------


def page_loads_idle(ctx: Context) -> None:
    ctx.driver.get(ctx.base_url + "/")
    assert ctx.driver.title == "docsnap demo", f"unexpected title {ctx.driver.title!r}"
    assert page_state(ctx) == "idle", f"state is {page_state(ctx)!r}, expected 'idle'"

    for element_id in ["file", "kind-doc", "kind-form", "cipher", "submit", "status",
                       "result-table", "result-json", "fill", "library", "clear", "deadline", "token"]:
        assert ctx.driver.find_elements(By.ID, element_id), f"#{element_id} is missing"

    assert not ctx.driver.find_element(By.ID, "fill").is_enabled(), "#fill is enabled before any form result"
    assert Select(ctx.driver.find_element(By.ID, "cipher")).first_selected_option.get_attribute("value") == "A256GCM"

    deadline = ctx.driver.find_element(By.ID, "deadline")
    deadline.clear()
    deadline.send_keys(str(PAGE_DEADLINE))
    ctx.driver.execute_script(FETCH_RECORDER_JS)


def run_form(ctx: Context, cipher: str) -> None:
    """Submits the image as a form with the given cipher and checks request and result."""
    sent_before = len(requests_sent(ctx))
    choose_files(ctx, ctx.image)
    ctx.driver.find_element(By.ID, "kind-form").click()
    Select(ctx.driver.find_element(By.ID, "cipher")).select_by_value(cipher)

    state = run_and_wait(ctx, "submit")
    assert state == "done", f"state is {state!r}; status: {status_text(ctx)!r}"

    result = result_json(ctx)
    assert isinstance(result, dict), f"result is not an object: {result!r}"
    for key in ("title", "kv", "fields"):
        assert key in result, f"result lacks {key!r}: {sorted(result)}"
    assert isinstance(result["kv"], dict), f"kv is not an object: {result['kv']!r}"
    assert isinstance(result["fields"], list), f"fields is not a list: {result['fields']!r}"
    assert "Form result" in table_caption(ctx), f"caption is {table_caption(ctx)!r}"
    # textContent, because Selenium's .text collapses whitespace that a value may contain.
    title_cell = ctx.driver.find_element(By.CSS_SELECTOR, "#result-table tbody:nth-of-type(1) tr:first-child td")
    title_cell = title_cell.get_property("textContent")
    assert title_cell == (result["title"] or "none"), f"title cell is {title_cell!r}, result title {result['title']!r}"
    # The second body is the kv group: a heading row, then one row per pair (or a "none" row).
    kv_rows = ctx.driver.find_elements(By.CSS_SELECTOR, "#result-table tbody:nth-of-type(2) tr")
    assert len(kv_rows) == 1 + max(1, len(result["kv"])), f"{len(kv_rows)} kv rows for {len(result['kv'])} pairs"
    for row, (key, value) in zip(kv_rows[1:], result["kv"].items()):
        shown_key = row.find_element(By.TAG_NAME, "th").get_property("textContent")
        shown_value = row.find_element(By.TAG_NAME, "td").get_property("textContent")
        assert shown_key == key, f"kv row shows key {shown_key!r}, expected {key!r}"
        assert shown_value == value, f"kv row {key!r} shows {shown_value!r}, expected {value!r}"
    assert ctx.driver.find_element(By.ID, "fill").is_enabled(), "#fill stays disabled after a form result"
    ctx.form_result = result

    sent = process_requests(ctx, sent_before)
    assert sent, "the page sent no POST /process"
    submit, polls = sent[0]["body"], [entry["body"] for entry in sent[1:]]
    assert submit["has_content"] is True, f"first request has has_content={submit['has_content']!r}"
    assert submit["type"] == "form", f"type is {submit['type']!r}"
    assert submit["SHA256"] == hashlib.sha256(submit["content"].encode()).hexdigest(), "SHA256 is not the hash of content"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", submit["client_id"]), submit["client_id"]

    content_length = decoded_length(submit["content"])
    if cipher == "A256GCM":
        assert submit.get("cipher") == "A256GCM", f"cipher field is {submit.get('cipher')!r}"
        # nonce(12) + ciphertext + tag(16), and the ciphertext contains the image's base64.
        assert content_length > 28 + len(base64.b64encode(ctx.image.read_bytes())), "GCM content is too short"
    else:
        assert "cipher" not in submit, f"CBC request carries cipher={submit['cipher']!r}"
        assert content_length > 16, f"CBC content has only {content_length} bytes"
        assert (content_length - 16) % 16 == 0, f"CBC content of {content_length} bytes is not IV + whole blocks"

    for poll in polls:
        assert poll["has_content"] is False, "a poll has has_content != false"
        assert "content" not in poll, "a poll carries content"
        assert "aes_key" not in poll, "a poll carries aes_key"
        assert poll["SHA256"] == submit["SHA256"], "a poll names another task"
    save_screenshot(ctx, f"form-{cipher.lower()}")


def form_with_gcm(ctx: Context) -> None:
    run_form(ctx, "A256GCM")


def form_with_cbc(ctx: Context) -> None:
    run_form(ctx, "CBC")


def doc_with_two_pages(ctx: Context) -> None:
    second_page = ctx.work_dir / ("page-2" + ctx.image.suffix)
    shutil.copyfile(ctx.image, second_page)
    sent_before = len(requests_sent(ctx))
    choose_files(ctx, ctx.image, second_page)
    ctx.driver.find_element(By.ID, "kind-doc").click()

    state = run_and_wait(ctx, "submit")
    assert state == "done", f"state is {state!r}; status: {status_text(ctx)!r}"

    result = result_json(ctx)
    for key in ("title", "tags", "description", "kv", "related"):
        assert key in result, f"document result lacks {key!r}: {sorted(result)}"
    assert "fields" not in result, "a document result carries fields"
    assert "Document result" in table_caption(ctx), f"caption is {table_caption(ctx)!r}"

    submit = process_requests(ctx, sent_before)[0]["body"]
    assert submit["type"] == "doc", f"type is {submit['type']!r}"
    # Both pages' base64 is inside the sealed payload.
    page_length = len(base64.b64encode(ctx.image.read_bytes()))
    assert decoded_length(submit["content"]) > 2 * page_length, "content is too short for two pages"


def fill_last_form(ctx: Context) -> None:
    assert ctx.form_result is not None, "no form result to fill (an earlier step failed)"
    sent_before = len(requests_sent(ctx))
    Select(ctx.driver.find_element(By.ID, "cipher")).select_by_value("A256GCM")

    state = run_and_wait(ctx, "fill")
    assert state == "done", f"state is {state!r}; status: {status_text(ctx)!r}"

    result = result_json(ctx)
    assert isinstance(result, dict), f"fill result is not an object: {result!r}"
    assert "Fill result" in table_caption(ctx), f"caption is {table_caption(ctx)!r}"
    headers = [cell.text for cell in ctx.driver.find_elements(By.CSS_SELECTOR, "#result-table thead th")]
    assert headers == ["Field", "Value", "Source"], f"fill table headers are {headers}"
    rows = ctx.driver.find_elements(By.CSS_SELECTOR, "#result-table tbody tr")
    assert len(rows) == max(1, len(result)), f"{len(rows)} rows for {len(result)} filled fields"
    for label, filled in result.items():
        assert label in ctx.form_result["fields"], f"filled {label!r} is not a field of the form"
        assert "value" in filled, f"filled {label!r} lacks a value: {filled!r}"
        assert "source" in filled, f"filled {label!r} lacks a source: {filled!r}"

    sent = process_requests(ctx, sent_before)
    assert sent and sent[0]["body"]["type"] == "fill", "the page did not send a fill request"
    save_screenshot(ctx, "fill")


def invalid_library_rejected(ctx: Context) -> None:
    library = ctx.driver.find_element(By.ID, "library")
    original = library.get_attribute("value")
    sent_before = len(requests_sent(ctx))
    ctx.driver.execute_script("arguments[0].value = '{\"docs\": [oops'", library)
    try:
        state = run_and_wait(ctx, "submit")
        assert state == "error", f"state is {state!r} for a library that is not JSON"
        assert "file library" in status_text(ctx), f"status does not name the library: {status_text(ctx)!r}"
        assert not process_requests(ctx, sent_before), "the page sent a request with a broken library"
    finally:
        ctx.driver.execute_script("arguments[0].value = arguments[1]", library, original)


def undecodable_image_shows_code(ctx: Context) -> None:
    garbage = ctx.work_dir / "not-an-image.png"
    garbage.write_bytes(b"this is plain text, not a PNG\n" * 20)
    choose_files(ctx, garbage)
    ctx.driver.find_element(By.ID, "kind-doc").click()

    state = run_and_wait(ctx, "submit")
    assert state == "error", f"state is {state!r} for a page that is not an image"
    code = ctx.driver.execute_script("return document.body.dataset.errorCode")
    assert re.fullmatch(r"[A-Z_]+", code or ""), f"data-error-code is {code!r}"
    assert code in status_text(ctx), f"status does not show {code}: {status_text(ctx)!r}"


def clear_removes_tasks(ctx: Context) -> None:
    # Every submission the server accepted created one task of this client.
    accepted = {
        (entry["body"]["SHA256"], entry["body"]["type"])
        for entry in requests_sent(ctx)
        if entry["url"].endswith("/process") and entry["body"]["has_content"] and entry.get("httpStatus") == 202
    }
    state = run_and_wait(ctx, "clear")
    assert state == "done", f"state is {state!r}; status: {status_text(ctx)!r}"
    expected = f"Cleared {len(accepted)} task"
    assert expected in status_text(ctx), f"status is {status_text(ctx)!r}, expected {expected!r}"

    state = run_and_wait(ctx, "clear")
    assert state == "done", f"second clear: state is {state!r}"
    assert "Cleared 0 tasks" in status_text(ctx), f"second clear: status is {status_text(ctx)!r}"


def api_prefix_from_query(ctx: Context) -> None:
    ctx.driver.get(ctx.base_url + "/?api=/api/v1")
    ctx.driver.execute_script(FETCH_RECORDER_JS)

    state = run_and_wait(ctx, "clear")
    assert state == "done", f"state is {state!r}; status: {status_text(ctx)!r}"
    urls = [entry["url"] for entry in requests_sent(ctx)]
    assert urls == [ctx.base_url + "/api/v1/clear"], f"requests went to {urls}"


def token_sent_as_bearer(ctx: Context) -> None:
    # The test server requires no token, so it ignores the header.
    ctx.driver.find_element(By.ID, "token").send_keys("demo-token-123")
    sent_before = len(requests_sent(ctx))

    state = run_and_wait(ctx, "clear")
    assert state == "done", f"state is {state!r}; status: {status_text(ctx)!r}"
    sent = requests_sent(ctx)[sent_before:]
    assert len(sent) == 1, f"{len(sent)} requests for one clear"
    authorization = sent[0]["headers"].get("Authorization")
    assert authorization == "Bearer demo-token-123", f"Authorization header is {authorization!r}"


def poll_deadline_gives_up(ctx: Context) -> None:
    # With no workers the server only queues tasks, so the page polls until its deadline.
    process, base_url, _ = start_server(ctx.work_dir, "queue-only", ("--workers", "0"))
    try:
        ctx.driver.get(base_url + "/")
        ctx.driver.execute_script(FETCH_RECORDER_JS)
        deadline = ctx.driver.find_element(By.ID, "deadline")
        deadline.clear()
        deadline.send_keys("5")
        choose_files(ctx, ctx.image)
        ctx.driver.find_element(By.ID, "kind-doc").click()

        statuses: list[str] = []
        state = run_and_wait(ctx, "submit", statuses)
        assert state == "error", f"state is {state!r}; status: {status_text(ctx)!r}"
        assert "Gave up after" in status_text(ctx), f"status is {status_text(ctx)!r}"
        progress = [text for text in statuses if re.fullmatch(r"Processing the doc request \(A256GCM\)… \d+ s", text)]
        assert progress, f"no progress line with elapsed seconds among {sorted(set(statuses))}"

        polls = [entry for entry in process_requests(ctx, 0) if not entry["body"]["has_content"]]
        assert len(polls) >= 3, f"{len(polls)} polls in 5 s, expected one a second"
        assert all(entry["httpStatus"] == 202 for entry in polls), "a poll of a queued task did not return 202"
    finally:
        stop_server(process)


STEPS: list[tuple[str, Callable[[Context], None]]] = [
    ("page loads idle", page_loads_idle),
    ("form with A256GCM", form_with_gcm),
    ("form with CBC", form_with_cbc),
    ("fill last form", fill_last_form),
    ("doc with two pages", doc_with_two_pages),
    ("invalid library rejected", invalid_library_rejected),
    ("undecodable image shows code", undecodable_image_shows_code),
    ("clear removes tasks", clear_removes_tasks),
    ("api prefix from query", api_prefix_from_query),
    ("token sent as bearer", token_sent_as_bearer),
    ("poll deadline gives up", poll_deadline_gives_up),
]


# ---- Runner ------------------------------------------------------------------


def run_steps(ctx: Context) -> tuple[int, int]:
    passed = failed = 0
    for name, step in STEPS:
        try:
            step(ctx)
        except Exception as error:  # noqa: BLE001 - every failure is reported and counted
            failed += 1
            detail = str(error) if isinstance(error, AssertionError) else traceback.format_exc()
            print(f"FAIL {name}: {detail}", flush=True)
            save_screenshot(ctx, "failure-" + re.sub(r"\W+", "-", name))
        else:
            passed += 1
            print(f"ok   {name}", flush=True)
    return passed, failed


def main() -> int:
    work_dir = Path(tempfile.mkdtemp(prefix="docsnap-demo-test-"))
    server = driver = None
    passed, failed = 0, 1
    try:
        server, base_url, log_path = start_server(work_dir)
        print(f"docsnap-server at {base_url}, log {log_path}", flush=True)
        driver = start_browser(work_dir)
        ctx = Context(base_url=base_url, driver=driver, image=pick_image(work_dir), work_dir=work_dir)
        print(f"page image: {ctx.image}", flush=True)

        passed, failed = run_steps(ctx)
        save_screenshot(ctx, "final")
        for path in ctx.screenshots:
            print(f"screenshot: {path}")
        if failed:
            print(f"server log: {log_path}")
    except Exception:  # noqa: BLE001 - setup failures count as one failed test
        traceback.print_exc()
    finally:
        if driver is not None:
            driver.quit()
        if server is not None:
            stop_server(server)
        # Keep the screenshots and server logs, but drop the browser profile and task stores.
        shutil.rmtree(work_dir / "chromium-profile", ignore_errors=True)
        for data_dir in work_dir.glob("*-data"):
            shutil.rmtree(data_dir, ignore_errors=True)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    # Selenium Manager must not try to download drivers: both come from Debian.
    os.environ.setdefault("SE_OFFLINE", "true")
    sys.exit(main())
