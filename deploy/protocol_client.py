"""Run one DocuSnap protocol task against a server and check its outcome.

Fetches the server's public key, seals the inner payload with A256GCM,
submits it, polls once a second until the task ends or the deadline passes,
and opens the result. Exits 0 when the outcome matches --expect, 1 when it
does not, and 2 on bad arguments. Uses only `cryptography` and the standard
library, so deploy/test-deploy.sh can run it on a bare Debian machine.
"""

import argparse
import base64
import hashlib
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DOC_RESULT_KEYS = {"title", "tags", "description", "kv", "related"}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="API base URL, such as https://127.0.0.1:8443/api/v1")
    parser.add_argument("--cafile", help="PEM file of the CA that signed the server certificate")
    parser.add_argument("--image", required=True, help="page image to submit as a doc task")
    parser.add_argument(
        "--expect",
        required=True,
        help="'completed' for a doc result, or the task error code expected, such as OCR_FAILURE",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to poll before giving up")
    parser.add_argument("--content-out", help="file to write the submitted content to, for log checks")
    return parser.parse_args(argv)


def make_context(cafile):
    if cafile is None:
        return None
    return ssl.create_default_context(cafile=cafile)


def http(method, url, context, body=None):
    """Send one request; return (status, body bytes) for any HTTP status."""
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def load_public_key(base_url, context):
    status, body = http("GET", f"{base_url}/public_key", context)
    if status != 200:
        raise RuntimeError(f"GET /public_key returned HTTP {status}: {body[:200]!r}")
    return serialization.load_pem_public_key(body)


def seal(public_key, client_id, task_type, payload):
    """Seal the payload with AES-256-GCM and wrap the key with RSA-OAEP-SHA256.

    The associated data is `client_id + "\\n" + type`. Returns the request fields and the key.
    """
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    associated = f"{client_id}\n{task_type}".encode("utf-8")
    sealed = AESGCM(key).encrypt(nonce, json.dumps(payload).encode("utf-8"), associated)
    content = base64.b64encode(nonce + sealed).decode("ascii")

    wrapped = public_key.encrypt(
        key,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    fields = {
        "client_id": client_id,
        "type": task_type,
        "cipher": "A256GCM",
        "SHA256": hashlib.sha256(content.encode("utf-8")).hexdigest(),
        "has_content": True,
        "content": content,
        "aes_key": base64.b64encode(wrapped).decode("ascii"),
    }
    return fields, key


def open_result(key, client_id, task_type, result):
    raw = base64.b64decode(result)
    associated = f"{client_id}\n{task_type}".encode("utf-8")
    plain = AESGCM(key).decrypt(raw[:12], raw[12:], associated)
    return json.loads(plain)


def run_task(args):
    """Submit one doc task and poll it; return (outcome, detail)."""
    context = make_context(args.cafile)
    public_key = load_public_key(args.base_url, context)
    with open(args.image, "rb") as file:
        page = base64.b64encode(file.read()).decode("ascii")

    client_id = str(uuid.uuid4())
    payload = {"to_process": [page], "file_lib": {"docs": [], "forms": []}}
    request, key = seal(public_key, client_id, "doc", payload)
    if args.content_out:
        with open(args.content_out, "w", encoding="ascii") as file:
            file.write(request["content"])

    status, body = http("POST", f"{args.base_url}/process", context, request)
    poll = {name: request[name] for name in ("client_id", "type", "SHA256")}
    poll["has_content"] = False
    deadline = time.monotonic() + args.timeout

    while True:
        reply = json.loads(body) if body else {}
        state = reply.get("status")
        if state == "completed":
            return "completed", open_result(key, client_id, "doc", reply["result"])
        if state == "error":
            return reply.get("error_detail", "?"), f"HTTP {status}"
        if state != "processing":
            return "unexpected", f"HTTP {status}: {body[:200]!r}"
        if time.monotonic() >= deadline:
            return "timed_out", f"still processing after {args.timeout:.0f} s"
        time.sleep(1.0)
        status, body = http("POST", f"{args.base_url}/process", context, poll)


def main(argv):
    args = parse_args(argv)
    started = time.monotonic()
    try:
        outcome, detail = run_task(args)
    except (OSError, RuntimeError, ValueError) as error:
        outcome, detail = "client_error", str(error)
    elapsed = time.monotonic() - started

    if outcome == "completed":
        missing = DOC_RESULT_KEYS - set(detail)
        if missing:
            print(f"completed in {elapsed:.1f} s, but the result lacks {sorted(missing)}")
            return 1
        detail = f"title={detail['title']!r}, {len(detail['kv'])} kv pairs"
    print(f"{outcome} in {elapsed:.1f} s ({detail})")
    return 0 if outcome == args.expect else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
