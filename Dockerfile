# syntax=docker/dockerfile:1
#
# reddish in a container: the server by default, reddish-cli beside it.
#   docker build -t reddish .
#   docker run --rm -p 6379:6379 reddish
#   docker run --rm -it reddish reddish-cli -h host.docker.internal
# compose.yml builds this image for the lab (a server and an interactive client).

# Build with the official Rust image. The build command is the one
# tests/cli.rs checks against Cargo.toml and Cargo.lock.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the crates and compiled dependencies between builds; the
# binaries are copied out because the target cache is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin reddish-server --bin reddish-cli \
    && mkdir -p /out \
    && cp target/release/reddish-server target/release/reddish-cli /out/

# Run on the Debian release the build image is based on (same glibc).
FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 reddish \
    && useradd --system --uid 10001 --gid reddish --home-dir /data --create-home reddish
COPY --from=build /out/reddish-server /out/reddish-cli /usr/local/bin/
USER reddish
WORKDIR /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
    CMD ["reddish-cli", "-e", "-p", "6379", "PING"]
# Listen on every interface of the container; without a password Redis's
# protected mode would refuse clients from outside it.
CMD ["reddish-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
