#!/usr/bin/env bash
# Runs the single-machine deployment on loopback and tests it end to end:
# nginx (deploy/nginx/docsnap.conf) terminates TLS in front of one `api`
# server that sends OCR to two `ocr` servers, which require a bearer token
# that the api sends. Real tasks go through nginx while the OCR servers are
# killed and restarted one by one.
#
# Usage: deploy/test-deploy.sh
# Env:   DOCSNAP_SERVER_BIN  server binary to test; by default cargo builds
#                            target/debug/docsnap-server (or under CARGO_TARGET_DIR).
# Needs: nginx, openssl, curl and python3 with `cryptography`; installs them
#        from Debian packages when missing. Binds only 127.0.0.1.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Seconds a task may take before the client stops polling. A task that
# outlives it counts as a hang, which is itself a failure.
TASK_TIMEOUT=90
# Seconds a server gets to start listening and report ready.
START_TIMEOUT=120

passed=0
failed=0
pids=()
declare -A task_pids=() task_expected=()
nginx_pid_file=""
work=""
ocr_token=""

pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }

cleanup() {
    local pid
    if [[ -n "$nginx_pid_file" && -s "$nginx_pid_file" ]]; then
        kill "$(cat "$nginx_pid_file")" 2>/dev/null || true
    fi
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$work" ]]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

apt_updated=0
apt_install() {
    if [[ $apt_updated -eq 0 ]]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    # policy-rc.d keeps the package's own nginx service (port 80 on every
    # address) from starting; it is removed again if this script added it.
    local added_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    local status=0
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" \
        >/dev/null || status=$?
    if [[ $added_policy -eq 1 ]]; then
        as_root rm -f /usr/sbin/policy-rc.d
    fi
    return "$status"
}

install_tools() {
    local missing=()
    command -v openssl >/dev/null || missing+=(openssl)
    command -v curl >/dev/null || missing+=(curl)
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "installing ${missing[*]} from Debian packages"
        apt_install "${missing[@]}"
    fi
    if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
        # nginx-light is gone from newer Debian and Ubuntu releases.
        echo "installing nginx from Debian packages"
        apt_install nginx-light || apt_install nginx
    fi
    nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
}

# Picks a python3 that imports `cryptography`, installing Debian's if none does.
find_python() {
    local candidate
    for candidate in python3 /usr/bin/python3; do
        if "$candidate" -c 'import cryptography' 2>/dev/null; then
            python="$candidate"
            return
        fi
    done
    echo "installing python3-cryptography from Debian packages"
    apt_install python3 python3-cryptography
    python=/usr/bin/python3
}

find_server() {
    if [[ -n "${DOCSNAP_SERVER_BIN:-}" ]]; then
        server_bin="$DOCSNAP_SERVER_BIN"
    else
        server_bin="${CARGO_TARGET_DIR:-$repo/target}/debug/docsnap-server"
        echo "building docsnap-server"
        (cd "$repo" && cargo build --quiet --locked -p docsnap-http --bin docsnap-server)
    fi
    if [[ ! -x "$server_bin" ]]; then
        echo "error: server binary $server_bin not found; build it or set DOCSNAP_SERVER_BIN" >&2
        exit 1
    fi
}

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts docsnap-server in the background; sets $started_pid and $started_port.
# Usage: start_server NAME LISTEN_ADDR ARGS...
start_server() {
    local name=$1 listen=$2
    shift 2
    local out="$work/$name.out"
    "$server_bin" serve --listen "$listen" --data-dir "$work/data-$name" --log-format json "$@" \
        >"$out" 2>>"$work/$name.log" &
    started_pid=$!
    pids+=("$started_pid")

    # The server prints one stdout line with its URL once it listens.
    local deadline=$((SECONDS + START_TIMEOUT))
    started_port=""
    while [[ -z "$started_port" ]]; do
        if ! kill -0 "$started_pid" 2>/dev/null || ((SECONDS > deadline)); then
            echo "error: $name did not start; its log:" >&2
            tail -n 20 "$work/$name.log" >&2
            exit 1
        fi
        sleep 0.2
        started_port="$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$out")"
    done
    wait_ready "$name" "$started_port"
}

wait_ready() {
    local name=$1 port=$2
    local deadline=$((SECONDS + START_TIMEOUT))
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; do
        if ((SECONDS > deadline)); then
            echo "error: $name on port $port is not ready after $START_TIMEOUT s" >&2
            exit 1
        fi
        sleep 0.5
    done
}

kill_server() {
    local pid=$1
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
}

make_certificate() {
    mkdir -m 700 "$work/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$work/tls/privkey.pem" -out "$work/tls/fullchain.pem" 2>/dev/null
}

# Writes the nginx configuration: deploy/nginx/docsnap.conf with loopback
# ports and temporary paths.
write_nginx_config() {
    nginx_prefix="$work/nginx"
    "$python" "$repo/deploy/nginx/render-test-config.py" \
        "$nginx_prefix" "$work/tls" "$api_port" "$http_port" "$https_port"
    # nginx workers run as user `nobody` when the master is root, and must write
    # request bodies under the prefix.
    chmod 755 "$work" "$nginx_prefix" "$nginx_prefix/tmp"
    nginx_conf="$nginx_prefix/nginx.conf"
}

# Prints a page image: the OCR fixture if the checkout has it, else one drawn with Pillow.
page_image() {
    local fixture="$repo/docsnap-core/tests/fixtures/ocr/letter.png"
    if [[ -f "$fixture" ]]; then
        echo "$fixture"
        return
    fi
    if ! "$python" -c 'import PIL' 2>/dev/null; then
        apt_install python3-pil
    fi
    "$python" - "$work/page.png" <<'EOF'
import sys
from PIL import Image, ImageDraw
image = Image.new("RGB", (900, 300), "white")
draw = ImageDraw.Draw(image)
for row, line in enumerate(["INVOICE 2041", "Name: Jane Example", "Date: 2024-03-05"]):
    draw.text((40, 40 + 80 * row), line, fill="black", font_size=40)
image.save(sys.argv[1])
EOF
    echo "$work/page.png"
}

# Runs the Dockerfile's HEALTHCHECK command against a server on this
# machine, as Docker would inside the container; prints its exit status.
# Usage: image_healthcheck PORT
image_healthcheck() {
    DOCSNAP_LISTEN="0.0.0.0:$1" "$python" - "$repo/Dockerfile" <<'EOF'
import json, subprocess, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
line = next(line for line in text.splitlines() if line.startswith("HEALTHCHECK"))
command = json.loads(line[line.index("CMD") + 3:])
print(subprocess.run(command, capture_output=True).returncode)
EOF
}

# Starts one task through nginx in the background; finish_task checks it.
# Usage: start_task NAME EXPECTED_OUTCOME
start_task() {
    local name=$1 expected=$2
    "$python" "$repo/deploy/protocol_client.py" \
        --base-url "https://127.0.0.1:$https_port/api/v1" --cafile "$work/tls/fullchain.pem" \
        --image "$page" --expect "$expected" --timeout "$TASK_TIMEOUT" \
        --content-out "$work/task-$name.content" >"$work/task-$name.out" 2>&1 &
    task_pids[$name]=$!
    task_expected[$name]=$expected
    pids+=("$!")
}

# Waits for a task from start_task and counts its outcome.
# Usage: finish_task NAME DESCRIPTION
finish_task() {
    local name=$1 description=$2
    if wait "${task_pids[$name]}"; then
        pass "$description: $(cat "$work/task-$name.out")"
    else
        fail "$description: expected ${task_expected[$name]}, got $(cat "$work/task-$name.out")"
    fi
}

# Usage: run_task NAME EXPECTED_OUTCOME DESCRIPTION
run_task() {
    start_task "$1" "$2"
    finish_task "$1" "$3"
}

main() {
    # Settings from the caller's environment would change what is tested.
    local name
    for name in $(compgen -e | grep '^DOCSNAP_' || true); do
        [[ $name == DOCSNAP_SERVER_BIN ]] || unset "$name"
    done

    install_tools
    find_python
    find_server
    work="$(mktemp -d "${TMPDIR:-/tmp}/docsnap-deploy.XXXXXX")"
    page="$(page_image)"

    # The token the OCR servers require and the api sends, as in the
    # deployment files.
    ocr_token="$("$python" -c 'import secrets; print(secrets.token_hex(32))')"
    DOCSNAP_BEARER_TOKEN="$ocr_token" start_server ocr-a 127.0.0.1:0 --role ocr
    local ocr_a_pid=$started_pid ocr_a_port=$started_port
    DOCSNAP_BEARER_TOKEN="$ocr_token" start_server ocr-b 127.0.0.1:0 --role ocr
    local ocr_b_pid=$started_pid ocr_b_port=$started_port
    DOCSNAP_OCR_REMOTE_TOKEN="$ocr_token" start_server api 127.0.0.1:0 --role api --ocr-engine remote \
        --rate-limit-client-ip-header x-real-ip \
        --ocr-remote-url "http://127.0.0.1:$ocr_a_port" \
        --ocr-remote-url "http://127.0.0.1:$ocr_b_port" \
        --processing-timeout 120s
    api_port=$started_port
    echo "servers: ocr-a :$ocr_a_port, ocr-b :$ocr_b_port, api :$api_port"

    make_certificate
    http_port="$(free_port)"
    https_port="$(free_port)"
    write_nginx_config
    if "$nginx_bin" -t -q -e "$nginx_prefix/error.log" -c "$nginx_conf" -p "$nginx_prefix"; then
        pass "nginx -t accepts the derived configuration"
    else
        fail "nginx -t rejects the derived configuration"
        return
    fi
    nginx_pid_file="$nginx_prefix/nginx.pid"
    "$nginx_bin" -e "$nginx_prefix/error.log" -c "$nginx_conf" -p "$nginx_prefix"
    local https="https://127.0.0.1:$https_port"
    local tls=(--cacert "$work/tls/fullchain.pem" -sS)
    wait_for_nginx "$https"

    check_edge "$https" "${tls[@]}"
    check_client_ip "$https" "${tls[@]}"
    check_ocr_token "$ocr_a_port"

    run_task first completed "task with both OCR servers up"

    # Two tasks keep both OCR servers busy, so killing one interrupts a
    # page in flight, which the api must send to the other server.
    start_task inflight-1 completed
    start_task inflight-2 completed
    sleep 1
    kill_server "$ocr_a_pid"
    finish_task inflight-1 "first task in flight when ocr-a was killed"
    finish_task inflight-2 "second task in flight when ocr-a was killed"
    run_task after-kill completed "task after ocr-a was killed"

    local status
    status="$(image_healthcheck "$ocr_b_port")"
    if [[ $status == 0 ]]; then
        pass "the image's HEALTHCHECK command passes on a running server"
    else
        fail "the image's HEALTHCHECK command exits $status on a running server"
    fi

    kill_server "$ocr_b_pid"
    status="$(image_healthcheck "$ocr_b_port")"
    if [[ $status != 0 ]]; then
        pass "the image's HEALTHCHECK command fails once the server is gone"
    else
        fail "the image's HEALTHCHECK command passes with no server"
    fi
    run_task no-ocr OCR_FAILURE "task with no OCR server left"

    DOCSNAP_BEARER_TOKEN="$ocr_token" start_server ocr-a "127.0.0.1:$ocr_a_port" --role ocr
    run_task restarted completed "task after ocr-a restarted"

    check_access_log
    check_token_not_logged
}

wait_for_nginx() {
    local url=$1 deadline=$((SECONDS + 30))
    until curl -fsS -o /dev/null --cacert "$work/tls/fullchain.pem" "$url/api/v1/check_status"; do
        if ((SECONDS > deadline)); then
            echo "error: nginx did not respond on $url; its log:" >&2
            tail -n 20 "$nginx_prefix/error.log" >&2
            exit 1
        fi
        sleep 0.2
    done
}

# Checks what nginx itself decides: redirect, headers, limits, hidden paths.
check_edge() {
    local https=$1
    shift
    local curl_tls=("$@") answer

    answer="$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/api/v1/check_status" || true)"
    if [[ $answer == "301 https://127.0.0.1/api/v1/check_status" ]]; then
        pass "HTTP redirects to HTTPS"
    else
        fail "HTTP redirects to HTTPS: got '$answer'"
    fi

    local headers="$work/public_key.headers" body="$work/public_key.pem"
    answer="$(curl "${curl_tls[@]}" -D "$headers" -o "$body" -w '%{http_code}' "$https/api/v1/public_key" || true)"
    if [[ $answer == 200 ]] && grep -q 'BEGIN PUBLIC KEY' "$body"; then
        pass "public key is served over HTTPS through nginx"
    else
        fail "public key through nginx: HTTP $answer"
    fi
    local header
    for header in 'strict-transport-security: max-age=' 'x-content-type-options: nosniff' \
        'x-frame-options: DENY' 'referrer-policy: no-referrer'; do
        if grep -qi "^$header" "$headers"; then
            pass "response carries '$header'"
        else
            fail "response lacks '$header'"
        fi
    done

    answer="$(curl "${curl_tls[@]}" -o /dev/null -w '%{http_code}' "$https/healthz" || true)"
    if [[ $answer == 404 ]]; then
        pass "health endpoint is not exposed through nginx"
    else
        fail "health endpoint through nginx: HTTP $answer, expected 404"
    fi

    # One byte over the 64 MiB limit: nginx rejects it from Content-Length alone.
    head -c $((64 * 1024 * 1024 + 1)) /dev/zero >"$work/oversized.bin"
    answer="$(curl "${curl_tls[@]}" -o "$work/oversized.out" -w '%{http_code}' \
        -H 'Content-Type: application/json' --data-binary "@$work/oversized.bin" "$https/api/v1/process" || true)"
    if [[ $answer == 413 ]] && grep -q '"PAYLOAD_TOO_LARGE"' "$work/oversized.out"; then
        pass "oversized body gets 413 PAYLOAD_TOO_LARGE as JSON"
    else
        fail "oversized body: HTTP $answer, body $(head -c 200 "$work/oversized.out")"
    fi
    rm -f "$work/oversized.bin"

    curl "${curl_tls[@]}" -o /dev/null "$https/api/v1/check_status?token=QUERYMARKER7" || true
}

# Checks that the server throttles by the client IP that nginx passes on,
# not by nginx's own address: 127.0.0.2 sends undecryptable envelopes until
# it is throttled, and 127.0.0.1 must still be served.
check_client_ip() {
    local https=$1
    shift
    local curl_tls=("$@") content="AAAA" hash answer attempt
    hash="$(printf '%s' "$content" | sha256sum | cut -d' ' -f1)"

    answer=""
    for attempt in $(seq 1 30); do
        answer="$(curl "${curl_tls[@]}" --interface 127.0.0.2 -o "$work/throttle.out" -w '%{http_code}' \
            -H 'Content-Type: application/json' "$https/api/v1/process" \
            -d "{\"client_id\":\"bad-$attempt\",\"type\":\"doc\",\"SHA256\":\"$hash\",\"has_content\":true,\"content\":\"$content\",\"aes_key\":\"$content\"}" \
            || true)"
        [[ $answer == 429 ]] && break
    done
    if [[ $answer == 429 ]] && grep -q RATE_LIMITED "$work/throttle.out"; then
        pass "client sending undecryptable envelopes is throttled after $((attempt - 1))"
    else
        fail "client sending undecryptable envelopes was not throttled: last HTTP $answer"
    fi

    answer="$(curl "${curl_tls[@]}" -o "$work/other.out" -w '%{http_code}' \
        -H 'Content-Type: application/json' "$https/api/v1/process" \
        -d "{\"client_id\":\"other\",\"type\":\"doc\",\"SHA256\":\"$hash\",\"has_content\":false}" \
        || true)"
    if [[ $answer == 400 ]] && grep -q TASK_NOT_FOUND "$work/other.out"; then
        pass "another client IP is still served"
    else
        fail "another client IP got HTTP $answer: $(head -c 200 "$work/other.out")"
    fi
}

# Checks that an OCR server rejects a page without the token and reads one with it.
# Usage: check_ocr_token PORT
check_ocr_token() {
    local url="http://127.0.0.1:$1/ocr" answer
    answer="$(curl -sS -o /dev/null -w '%{http_code}' --data-binary "@$page" "$url" || true)"
    if [[ $answer == 401 ]]; then
        pass "OCR server rejects a page without the bearer token"
    else
        fail "OCR server without the bearer token: HTTP $answer, expected 401"
    fi
    answer="$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ocr_token" \
        --data-binary "@$page" "$url" || true)"
    if [[ $answer == 200 ]]; then
        pass "OCR server reads a page sent with the bearer token"
    else
        fail "OCR server with the bearer token: HTTP $answer, expected 200"
    fi
}

check_token_not_logged() {
    if ! grep -qF "$ocr_token" "$work"/*.log; then
        pass "no server log contains the OCR token"
    else
        fail "a server log contains the OCR token"
    fi
}

check_access_log() {
    local log="$nginx_prefix/access.log"
    # nginx writes the access log line when the request ends; all have ended.
    if [[ -s "$log" ]] && ! grep -q QUERYMARKER7 "$log"; then
        pass "access log has no query strings"
    else
        fail "access log is empty or contains a query string"
    fi
    local content_start
    content_start="$(head -c 24 "$work/task-first.content")"
    if [[ -n "$content_start" ]] && ! grep -qF "$content_start" "$log"; then
        pass "access log has no request bodies"
    else
        fail "access log contains a request body"
    fi
}

main
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
