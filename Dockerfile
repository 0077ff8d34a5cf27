# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run in a slim Debian image
# as a non-root user. Migrations are embedded in the binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked --bin notion-airtable-sync

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /app sync
COPY --from=build /src/target/release/notion-airtable-sync /usr/local/bin/notion-airtable-sync
WORKDIR /app
USER sync
ENV LISTEN_ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///app/data/sync.db \
    SYNC_CONFIG=/app/sync.toml
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["notion-airtable-sync"]
CMD ["serve"]
