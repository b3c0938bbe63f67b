# The snipbox server's image, for Coolify or any Docker host.
#
#   docker build --build-arg DOCKER_GID=$(stat -c '%g' /var/run/docker.sock) -t snipbox .
#   docker run -d -p 8080:8080 -v /var/run/docker.sock:/var/run/docker.sock snipbox
#
# The server runs as UID 10001, a member of a group whose GID is DOCKER_GID:
# the GID that owns the host's docker.sock. It never runs as root. The
# sandbox images are built on the host (`make images`); see docs/deploy.md.
# The image carries the widget too, built here from source.
#
# The stage `guard` is snipbox-guard's image (docker-compose.proxy.yml):
#   docker build --target guard -t snipbox-guard .

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# The widget's toolchain: brotli (precompresses its files), the wasm
# target, the nightly Rust that builds it for size (where rustup is there to
# install it; scripts/widget.sh falls back to stable), and the wasm-bindgen
# CLI of exactly the version in Cargo.lock (a layer that stays cached).
# There is no node here for wasm-opt and esbuild: the image's widget is a
# few KB larger than `make widget`'s (README, "Embedding the widget").
COPY Cargo.lock ./
COPY scripts/pins.sh scripts/pins.sh
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends brotli >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && (! command -v rustup >/dev/null || (rustup target add wasm32-unknown-unknown \
      && . scripts/pins.sh && rustup toolchain install "$widget_nightly" --profile minimal \
         --component rust-src --target wasm32-unknown-unknown)) \
 && cargo install --quiet --root /usr/local wasm-bindgen-cli --version \
    "$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)"
COPY Cargo.toml ./
COPY wire wire
COPY agent agent
COPY server server
COPY guard guard
COPY widget widget
COPY playground playground
COPY tests tests
COPY scripts/widget.sh scripts/widget.sh
RUN cargo build --release --locked -p snipbox -p snipbox-guard \
 && cp target/release/snipbox /snipbox \
 && cp target/release/snipbox-guard /snipbox-guard \
 && scripts/widget.sh /widget

# snipbox-guard: the only process that talks to the engine's socket. It
# runs as UID 10002; the socket's group is added when it starts
# (`group_add` in docker-compose.proxy.yml, `--group-add` with docker run).
# It reads the same sandbox definitions as the server.
FROM ${RUNTIME_IMAGE} AS guard
RUN useradd --uid 10002 --user-group --no-create-home --home-dir /app guard
COPY --from=build /snipbox-guard /usr/local/bin/snipbox-guard
COPY sandboxes /app/sandboxes
WORKDIR /app
USER 10002
ENV SNIPBOX_GUARD_LISTEN=0.0.0.0:2375 \
    SNIPBOX_GUARD_SANDBOXES=/app/sandboxes
EXPOSE 2375
ENTRYPOINT ["snipbox-guard"]

# The server (the last stage: what `docker build .` makes).
FROM ${RUNTIME_IMAGE}
ARG DOCKER_GID=999
# A group with the socket's GID (reusing one that already has it), and the
# server's own user in it.
RUN (getent group "${DOCKER_GID}" >/dev/null || groupadd --gid "${DOCKER_GID}" dockersock) \
 && useradd --uid 10001 --user-group --groups "${DOCKER_GID}" --no-create-home --home-dir /app snipbox
COPY --from=build /snipbox /usr/local/bin/snipbox
COPY sandboxes /app/sandboxes
COPY static /app/static
COPY --from=build /widget /app/static/widget
WORKDIR /app
USER 10001
ENV SNIPBOX_LISTEN=0.0.0.0:8080 \
    SNIPBOX_SANDBOXES=/app/sandboxes \
    SNIPBOX_STATIC=/app/static
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["snipbox", "health"]
ENTRYPOINT ["snipbox"]
CMD ["serve"]
