# The README's two commands are `make run` and `make test`; both install
# what is missing first.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080

.PHONY: run book test bins test-arm64 test-e2e test-browser test-e2e-guard test-e2e-gvisor test-busy bench bench-widget loadtest images widget prereqs lint check check-leftovers

run: images widget book
	$(CARGO) build --release -p snipbox
	./target/release/snipbox --listen $(LISTEN)

test: images
	scripts/prereqs.sh --test
	$(MAKE) --no-print-directory widget book
	$(CARGO) build -p snipbox -p snipbox-guard
	$(CARGO) test --workspace
	$(MAKE) --no-print-directory test-e2e-guard test-e2e-gvisor
	CHROMEDRIVER=$$(command -v chromedriver) $(CARGO) test -p snipbox-widget --target wasm32-unknown-unknown
	$(MAKE) --no-print-directory test-arm64
	$(MAKE) --no-print-directory check-leftovers

# docs/ as a book (mdBook) in static/docs: the server serves it at /docs/,
# where its snippets run.
book:
	scripts/book.sh >/dev/null

# The suites one by one (`make test` runs the plain end-to-end and browser
# suites within `cargo test --workspace`). They start the server and the
# guard binaries, which `cargo test` of the tests does not rebuild: `bins`.
bins:
	$(CARGO) build -p snipbox -p snipbox-guard

test-e2e: bins
	$(CARGO) test -p snipbox-tests --test e2e

test-browser: bins
	$(CARGO) test -p snipbox-tests --test browser

# ARM64: the agent, the server and the guard built for aarch64 (static,
# musl, linked by the toolchain's lld: .cargo/config.toml), and the agent's
# own tests run on its aarch64 build under qemu-aarch64 (user-mode
# emulation). Left out there: the container tests (no ARM64 engine here),
# and the two that need the agent to find orphaned processes outside a
# container (daemons ending with the agent; a step's process that left its
# session), as qemu-user refuses the PR_SET_CHILD_SUBREAPER that makes
# them the agent's.
test-arm64:
	scripts/prereqs.sh --test
	$(CARGO) build -p snipbox -p snipbox-guard -p snipbox-agent --target aarch64-unknown-linux-musl
	SNIPBOX_AGENT_RUNNER=qemu-aarch64 $(CARGO) test -p snipbox-agent --target aarch64-unknown-linux-musl -- --skip container:: \
	  --skip prepare::daemons_end_with_the_agent --skip prepare::prepare_daemons_survive_the_steps_but_step_leftovers_do_not

# The end-to-end suite again, each server behind a snipbox-guard.
test-e2e-guard: bins
	SNIPBOX_TEST_GUARD=1 $(CARGO) test -p snipbox-tests --test e2e

# The sandbox suites again, every sandbox under gVisor (what differs there
# is named in each test); one warm container per sandbox, as each is a
# whole sandbox kernel and every test server fills its pools; one test at
# a time, as two beside those kernels push runs on 2 cores past their time
# limits.
test-e2e-gvisor: bins
	SNIPBOX_POOL=1 SNIPBOX_RUNTIME=runsc $(CARGO) test -p snipbox-tests --test e2e -- --test-threads=1 sandboxes hostile exploits kernel users endings files stream interactive

# The suites above, ROUNDS times (default 3), while a second server with
# warm pools serves a steady stream of runs beside them (BUSY_CONCURRENCY,
# BUSY_HOGS: see tests/src/bin/busy.rs); prints each run's result, time
# and load, and how often each test failed. SUITES picks some of them.
test-busy: images
	scripts/prereqs.sh --test
	$(MAKE) --no-print-directory widget
	$(CARGO) build -p snipbox -p snipbox-guard -p snipbox-tests --bin snipbox --bin snipbox-guard --bin busy
	scripts/test-busy.sh

# The edit loop: format, clippy and every test that needs no Docker (the
# server's unit, fake-engine and HTTP tests, the guard's, the agent's own,
# the configuration page against the flags).
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	DOCKER_HOST=unix:///nonexistent $(CARGO) test -p snipbox-wire -p snipbox-page -p snipbox-spec -p snipbox -p snipbox-guard
	DOCKER_HOST=unix:///nonexistent $(CARGO) test -p snipbox-agent -- --skip container::
	$(CARGO) test -p snipbox-tests --test reference

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p snipbox-widget -p snipbox-playground --all-targets --target wasm32-unknown-unknown -- -D warnings
	@! $(CARGO) tree -p snipbox-guard -e normal --prefix none | grep '^snipbox v' || { echo 'snipbox-guard links the server crate: share through spec/ instead' >&2; exit 1; }

# The widget and the playground: static/widget/ gets the loader, the wasm,
# its JS glue and CSS, the playground's wasm and CSS, and its editor.
widget:
	scripts/prereqs.sh --widget
	scripts/widget.sh static/widget

# Every sandbox image, or some: make images SANDBOXES=go,rust
images: prereqs
	SANDBOXES='$(SANDBOXES)' scripts/images.sh

prereqs:
	scripts/prereqs.sh

# No container labelled snipbox may outlive the test suite (those of the
# background load of `make test-busy`, instance busy-*, aside).
check-leftovers:
	@left() { docker ps -a --filter label=snipbox --format '{{.Label "snipbox.instance"}} {{.Names}}' | grep -v '^busy-' || true; }; \
	for i in $$(seq 1 20); do \
	  [ -z "$$(left)" ] && { echo "no snipbox container left"; exit 0; }; \
	  sleep 0.5; \
	done; \
	echo "containers left behind:"; left; exit 1

# Python print(1) four ways; prints the table and the ratios (see docs/performance.md).
# The widget's benchmark runs first; then what the features cost
# (runbench: a burst after a quiet minute, the preload, runc against runsc,
# streaming), every sandbox's example against its floor (sandboxbench), and
# the guard's (create+start straight to the engine and through
# snipbox-guard) last.
bench: images bench-widget
	$(CARGO) build --release -p snipbox -p snipbox-guard -p snipbox-tests --bin snipbox --bin snipbox-guard --bin bench --bin runbench --bin sandboxbench --bin seccompbench --bin guardbench --bin verifybench
	SNIPBOX_BIN=target/release/snipbox ./target/release/bench
	SNIPBOX_BIN=target/release/snipbox ./target/release/runbench
	SNIPBOX_BIN=target/release/snipbox ./target/release/sandboxbench
	./target/release/seccompbench
	SNIPBOX_BIN=target/release/snipbox SNIPBOX_GUARD_BIN=target/release/snipbox-guard ./target/release/guardbench
	SNIPBOX_BIN=target/release/snipbox ./target/release/verifybench

# The widget's download (raw, gzip, brotli per file, against 60 KB brotli)
# and its mount time on a page of 50 snippets in headless Chromium.
bench-widget:
	scripts/prereqs.sh --test
	$(MAKE) --no-print-directory widget
	$(CARGO) build --release -p snipbox -p snipbox-tests --bin snipbox --bin widgetbench
	SNIPBOX_BIN=target/release/snipbox ./target/release/widgetbench

# 2000 mixed requests, some hostile, at concurrency 32 (see docs/isolation.md).
loadtest: images
	$(CARGO) build --release -p snipbox -p snipbox-tests --bin snipbox --bin loadtest
	SNIPBOX_BIN=target/release/snipbox ./target/release/loadtest
