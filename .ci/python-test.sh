#!/usr/bin/env bash
# Build the docsnap wheel and docsnap-server, install the wheel into a fresh
# virtual environment and run the Python tests against both.
#
# DOCSNAP_WHEEL_PROFILE picks the cargo profile of the wheel. "release" is
# the default and what users get, and a clean build takes several minutes on
# two cores. "dev" optimises ocrs and rten but not the bindings, so it
# rebuilds faster.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
profile="${DOCSNAP_WHEEL_PROFILE:-release}"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "--- building the wheel (profile $profile)"
"$python" -m venv "$work/build"
"$work/build/bin/pip" install --quiet "maturin>=1.8,<2"
(cd "$repo/docsnap-py" && "$work/build/bin/maturin" build --profile "$profile" --out "$work/wheels")
ls -l "$work"/wheels/*.whl

# DOCSNAP_SERVER may name an already built docsnap-server binary.
if [ -z "${DOCSNAP_SERVER:-}" ]; then
    echo "--- building docsnap-server"
    cargo build --manifest-path "$repo/Cargo.toml" -p docsnap-http
    export DOCSNAP_SERVER="$CARGO_TARGET_DIR/debug/docsnap-server"
fi

echo "--- installing into a fresh virtual environment"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$work"/wheels/*.whl pytest mypy Pillow

echo "--- running pytest"
# Run from an empty directory so `import docsnap` finds the installed wheel,
# not the source tree.
status=0
(cd "$work" && "$work/venv/bin/python" -m pytest -v -p no:cacheprovider \
    --rootdir "$repo/docsnap-py" "$repo/docsnap-py/tests") || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit "$status"
