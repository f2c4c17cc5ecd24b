# syntax=docker/dockerfile:1
# docsnap-server image: one binary for every role (all, api, ocr), chosen
# with `serve --role`. The ocrs models are compiled into the binary.
#
#   docker build -t docsnap-server:0.1.0 .
#   docker run -p 8000:8000 -v docsnap-data:/var/lib/docsnap docsnap-server:0.1.0

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts keep the registry and the build directory between builds;
# the binary is copied out because the target mount is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p docsnap-http --bin docsnap-server \
    && cp target/release/docsnap-server /usr/local/bin/docsnap-server

FROM debian:bookworm-slim AS runtime
# curl serves the HEALTHCHECK; ca-certificates lets the LLM client verify TLS.
# Versions are left to the bookworm archive so rebuilds pick up security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 docsnap \
    && useradd --system --uid 10001 --gid docsnap --home-dir /var/lib/docsnap --shell /usr/sbin/nologin docsnap \
    && install -d -o docsnap -g docsnap -m 0700 /var/lib/docsnap
COPY --from=builder /usr/local/bin/docsnap-server /usr/local/bin/docsnap-server

# Containers listen on every interface; the OCR tier overrides the port
# with DOCSNAP_LISTEN=0.0.0.0:5001. Set the port through DOCSNAP_LISTEN, not
# --listen, because the health check reads it from there.
ENV DOCSNAP_LISTEN=0.0.0.0:8000 \
    DOCSNAP_DATA_DIR=/var/lib/docsnap \
    DOCSNAP_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/docsnap
EXPOSE 8000 5001

# The server has no health subcommand, so curl asks /healthz on the port
# taken from DOCSNAP_LISTEN.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS -o /dev/null \"http://127.0.0.1:${DOCSNAP_LISTEN##*:}/healthz\" || exit 1"]

ENTRYPOINT ["/usr/local/bin/docsnap-server"]
CMD ["serve"]
