#!/usr/bin/env bash
# Runs every docsnap test suite, installing what the suites need first.
#
# Suites: the Rust unit, integration and end-to-end tests (real ocrs models,
# real SQLite files, real HTTP over loopback), the Python module, the demo
# page in headless Chromium, and the deployment files and loopback deployment.
# Installs use pip and apt-get, so the script expects a Debian machine and
# root.
set -euo pipefail
cd "$(dirname "$0")/.."

# The envelope known-answer tests check docsnap against Python's
# `cryptography`, an independent implementation.
if ! python3 -c 'import cryptography' 2>/dev/null; then
    echo "test-all: installing the Python cryptography package"
    python3 -m pip install --quiet --root-user-action=ignore 'cryptography>=42'
fi

echo "test-all: Rust tests"
cargo test --workspace --exclude docsnap-py --locked

echo "test-all: Python module, built as a wheel into a fresh virtual environment"
bash .ci/python-test.sh

echo "test-all: browser test of the demo page"
cargo build --locked -p docsnap-http --bin docsnap-server
bash .ci/browser-test.sh

echo "test-all: deployment files, validated offline"
bash deploy/validate.sh

echo "test-all: deployment on loopback behind nginx"
bash deploy/test-deploy.sh
