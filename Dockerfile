# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run in a slim Debian image as
# a non-root user. The migrations are embedded in the binary, and `serve`
# applies them at start.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Everything the workspace declares: the service at the root and the sandbox
# crate in sandbox/, which the binary's `demo` and `sandbox` commands ship
# (see .dockerignore for what stays out).
COPY . .
RUN cargo build --release --locked --bin notion-airtable-sync \
 && strip target/release/notion-airtable-sync

FROM debian:bookworm-slim
# ca-certificates for the vendors' HTTPS APIs; curl for the HEALTHCHECK.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /app sync \
 && mkdir -p /app/data && chown sync:sync /app/data
COPY --from=build /src/target/release/notion-airtable-sync /usr/local/bin/notion-airtable-sync
COPY sync.example.toml /app/sync.example.toml
WORKDIR /app
USER sync
# Defaults for a single container on the embedded SQLite database (kept in
# /app/data; mount a volume there). docker-compose.yml sets Postgres instead.
ENV LISTEN_ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///app/data/sync.db \
    SYNC_CONFIG=/app/sync.toml
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["notion-airtable-sync"]
CMD ["serve"]
