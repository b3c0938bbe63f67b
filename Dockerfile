# The snipbox server's image, for Coolify or any Docker host.
#
#   docker build --build-arg DOCKER_GID=$(stat -c '%g' /var/run/docker.sock) -t snipbox .
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock snipbox images
#   docker run -d -p 127.0.0.1:8080:8080 -v /var/run/docker.sock:/var/run/docker.sock snipbox
#
# The server runs as UID 10001, a member of a group whose GID is DOCKER_GID:
# the GID that owns the host's docker.sock. It never runs as root. The
# image carries what builds the sandbox images too (`snipbox images`: the
# sandbox definitions and the agent), and the widget, built here from
# source. docker-compose.yml runs the builder once per deploy, then the
# server; see docs/deploy.md.
#
# The stage `guard` is snipbox-guard's image (docker-compose.proxy.yml):
#   docker build --target guard -t snipbox-guard .
#
# Stages are cut so that a change to the sources rebuilds only what uses
# them: the tools and the crates' dependencies are built from files that
# change rarely (the manifests, Cargo.lock, scripts/pins.sh), and the
# widget apart from the server.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# The workspace's skeleton: every manifest and Cargo.lock, and an empty
# stand-in for each crate's sources; and the wasm-bindgen version in
# Cargo.lock. This stage runs on every change, but what the next stages
# copy from it changes only with the manifests.
FROM ${RUNTIME_IMAGE} AS skeleton
COPY . /src
RUN cd /src && mkdir -p /skeleton /pins && cp Cargo.toml Cargo.lock /skeleton/ \
 && for crate in $(sed -n 's/^members = \[\(.*\)\]/\1/p' Cargo.toml | tr -d '",'); do \
      mkdir -p "/skeleton/$crate/src" && cp "$crate/Cargo.toml" "/skeleton/$crate/" \
      && if [ -f "$crate/src/lib.rs" ]; then : > "/skeleton/$crate/src/lib.rs"; fi \
      && if [ -f "$crate/src/main.rs" ]; then echo 'fn main() {}' > "/skeleton/$crate/src/main.rs"; fi; \
    done \
 && . scripts/pins.sh && wasm_bindgen_version Cargo.lock > /pins/wasm-bindgen

# The build tools: brotli (precompresses the widget's files), Debian's
# node and npm (run the widget's pinned npm tools: wasm-opt, esbuild and
# CodeMirror, as `make widget` uses them), the wasm-bindgen CLI of exactly
# the version in Cargo.lock, the agent's static (musl) target, the wasm
# target, and the nightly Rust that builds the widget for size where
# rustup is there to install it (scripts/widget.sh falls back to stable).
# A stand-in for rust:1 made by scripts/rust-image.sh has no rustup and
# carries both targets already. The certificates this image trusts are
# npm's too: where TLS is inspected on the way out, the stand-in trusts
# the inspecting CA.
FROM ${RUST_IMAGE} AS tools
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends brotli nodejs npm >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY --from=skeleton /pins /pins
RUN cargo install --quiet --root /usr/local wasm-bindgen-cli --version "$(cat /pins/wasm-bindgen)"
WORKDIR /src
COPY scripts/pins.sh scripts/widget-tools.sh scripts/
RUN if command -v rustup >/dev/null; then \
      . scripts/pins.sh \
      && rustup target add "$(uname -m)-unknown-linux-musl" wasm32-unknown-unknown \
      && rustup toolchain install "$widget_nightly" --profile minimal \
         --component rust-src --target wasm32-unknown-unknown; \
    fi \
 && NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt scripts/widget-tools.sh /src/target/tools

# Every dependency of the server, the guard and the agent, built once
# from the skeleton.
FROM tools AS deps
COPY --from=skeleton /skeleton /src
RUN cargo build --release --locked -p snipbox -p snipbox-guard \
 && cargo build --release --locked -p snipbox-agent --target "$(uname -m)-unknown-linux-musl"

# The server, the guard and the agent. The sources are touched: they may
# be older than the skeleton's builds, which cargo would then keep.
FROM deps AS build
COPY wire wire
COPY spec spec
COPY page page
COPY agent agent
COPY server server
COPY guard guard
RUN find wire spec page agent server guard -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p snipbox -p snipbox-guard \
 && cargo build --release --locked -p snipbox-agent --target "$(uname -m)-unknown-linux-musl" \
 && mkdir /out \
 && cp target/release/snipbox target/release/snipbox-guard \
       "target/$(uname -m)-unknown-linux-musl/release/snipbox-agent" /out/

# snipbox-guard: the only long-running process that talks to the engine's
# socket. It runs as UID 10002; the socket's group is added when it starts
# (`group_add` in docker-compose.proxy.yml, `--group-add` with docker run).
# It reads the same sandbox definitions as the server. docker-compose.proxy.yml
# has it listen on a Unix socket in /run/snipbox-guard, a volume only the
# server mounts too (in the guard's group, GID 10002): the folder is made
# here so that the volume starts out with its owner and mode.
FROM ${RUNTIME_IMAGE} AS guard
RUN useradd --uid 10002 --user-group --no-create-home --home-dir /app guard \
 && install -d -o 10002 -g 10002 -m 0750 /run/snipbox-guard
COPY --from=build /out/snipbox-guard /usr/local/bin/snipbox-guard
COPY sandboxes /app/sandboxes
WORKDIR /app
USER 10002
ENV SNIPBOX_GUARD_LISTEN=0.0.0.0:2375 \
    SNIPBOX_GUARD_SANDBOXES=/app/sandboxes
EXPOSE 2375
ENTRYPOINT ["snipbox-guard"]

# The widget and the playground (scripts/widget.sh, as `make widget`): their
# dependencies from the skeleton first, then the crates.
FROM deps AS widget
COPY scripts/widget.sh scripts/wasm-names.mjs scripts/
RUN WIDGET_CARGO_ONLY=1 scripts/widget.sh /tmp/skeleton-widget
COPY wire wire
COPY page page
COPY widget widget
COPY playground playground
RUN find wire page widget playground -name '*.rs' -exec touch {} + \
 && scripts/widget.sh /widget

# The server (the last stage: what `docker build .` makes), with the image
# builder's material: the agent every sandbox image gets, and the
# certificates the build stage trusted, for a sandbox Dockerfile's
# `COPY host-ca.crt`.
FROM ${RUNTIME_IMAGE}
ARG DOCKER_GID=999
# A group with the socket's GID (reusing one that already has it), and the
# server's own user in it.
RUN (getent group "${DOCKER_GID}" >/dev/null || groupadd --gid "${DOCKER_GID}" dockersock) \
 && useradd --uid 10001 --user-group --groups "${DOCKER_GID}" --no-create-home --home-dir /app snipbox \
 && install -d -o 10002 -g 10002 -m 0750 /run/snipbox-guard
COPY --from=build /etc/ssl/certs/ca-certificates.crt /usr/local/lib/snipbox/host-ca.crt
COPY --from=build /out/snipbox-agent /usr/local/lib/snipbox/snipbox-agent
COPY --from=build /out/snipbox /usr/local/bin/snipbox
COPY static /app/static
COPY --from=widget /widget /app/static/widget
COPY sandboxes /app/sandboxes
WORKDIR /app
USER 10001
ENV SNIPBOX_LISTEN=0.0.0.0:8080 \
    SNIPBOX_SANDBOXES=/app/sandboxes \
    SNIPBOX_STATIC=/app/static \
    SNIPBOX_AGENT=/usr/local/lib/snipbox/snipbox-agent \
    SNIPBOX_HOST_CA=/usr/local/lib/snipbox/host-ca.crt
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["snipbox", "health"]
ENTRYPOINT ["snipbox"]
CMD ["serve"]
