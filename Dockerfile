# konnektd container image.
#
#   docker build -t konnektd .
#   docker run -p 8001:8001 -p 8005:8005 -v konnektd-data:/var/lib/konnektd \
#     -e KONNEKTD_BOOTSTRAP_TOKEN=kpat_... konnektd
#
# Without DATABASE_URL the server keeps a SQLite database in /var/lib/konnektd.

# ---- build ------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# Dependencies first, against placeholder sources, so that this layer is reused
# until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
RUN mkdir -p src tests/api \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs tests/api/main.rs \
    && cargo build --release --locked \
    && rm -rf src

# The real sources. sqlx::migrate! embeds migrations/ at compile time.
COPY src ./src
COPY migrations ./migrations
# COPY keeps the files' own mtimes, which may be older than the placeholder build:
# touch the crate roots so cargo rebuilds konnektd itself.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/konnektd /out/konnektd

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 konnektd \
    && useradd --system --uid 10001 --gid konnektd --home-dir /var/lib/konnektd \
        --no-create-home --shell /usr/sbin/nologin konnektd \
    && install -d -o konnektd -g konnektd -m 0750 /var/lib/konnektd

COPY --from=builder /out/konnektd /usr/local/bin/konnektd

ENV KONNEKTD_LISTEN=0.0.0.0:8001 \
    KONNEKTD_CLUSTER_LISTEN=0.0.0.0:8005 \
    KONNEKTD_DATA_DIR=/var/lib/konnektd

# 8001: HTTP API. 8005: cluster listener for data planes.
EXPOSE 8001 8005
VOLUME ["/var/lib/konnektd"]
WORKDIR /var/lib/konnektd
USER konnektd:konnektd

# No HEALTHCHECK: the slim image has no HTTP client. Probe GET /status from outside
# (it needs no token).
ENTRYPOINT ["konnektd"]
CMD ["serve"]
