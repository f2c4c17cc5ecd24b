#!/usr/bin/env bash
# Runs the demo page's end-to-end test in headless Chromium against a real
# docsnap-server. Installs Chromium, ChromeDriver and Selenium when missing.
#
# Environment: DOCSNAP_SERVER_BIN (default: $CARGO_TARGET_DIR or target, then
# debug/docsnap-server, built when missing), DOCSNAP_DEMO_IMAGE (page image to
# upload; default: a form fixture, else a form rendered with Pillow).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "browser-test: installing chromium and chromium-driver"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
fi

if ! python3 -c 'import selenium, PIL' 2>/dev/null; then
    echo "browser-test: installing selenium and pillow"
    python3 -m pip install --quiet --root-user-action=ignore 'selenium>=4.20,<5' 'pillow>=10.1'
fi

if [ -z "${DOCSNAP_SERVER_BIN:-}" ]; then
    DOCSNAP_SERVER_BIN="${CARGO_TARGET_DIR:-target}/debug/docsnap-server"
    if [ ! -x "$DOCSNAP_SERVER_BIN" ]; then
        echo "browser-test: building docsnap-server"
        cargo build --quiet -p docsnap-http --bin docsnap-server
    fi
fi
export DOCSNAP_SERVER_BIN

exec python3 tests/browser/demo_test.py
