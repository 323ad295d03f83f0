# Flotilla's two commands: `make run` starts an instance, `make test` runs every check.
CARGO ?= cargo

.PHONY: run test bench build fmt lint

## Install what is missing, build (the web client first: the release binary embeds it), start an
## instance on http://localhost:9000 (SQLite, ./data).
run:
	scripts/ensure-deps run
	scripts/build-web
	$(CARGO) build --release -p flotilla
	./target/release/flotilla serve

## Everything CI checks: formatting, clippy, the web client's type check, linter and size budget,
## pyflakes over the benchmark's Python (`make bench` is not part of it: its report's name errors
## would otherwise surface only after a long run),
## unit and integration tests on SQLite and PostgreSQL, then the browser tests in Chromium, and
## the P2P tests (three Chromiums sharing a video, then a live) inside a loopback-only network namespace, against
## a build of the client with test hooks (web/build-test-hooks; web/build must carry none).
## The browser tests run the binary nextest built for the process tests (same features: building
## it again without them recompiled 16 crates). No incremental state: a one-shot build does not
## reuse it, and it took gigabytes of CI's disk. nextest runs four tests at a time
## (.config/nextest.toml), the browser test files three at a time, the two P2P files at once
## (web/package.json).
test: export CARGO_INCREMENTAL = 0
test:
	scripts/ensure-deps test
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/build-web
	cd web && npm run --silent check && npm run --silent lint && npm run --silent size && npm run --silent check:build && npm run --silent test:unit
	python3 -m pyflakes scripts/bench-lib
	scripts/with-postgres $(CARGO) nextest run --workspace --no-fail-fast
	test -x target/debug/flotilla
	cd web && FLOTILLA_BIN=$(CURDIR)/target/debug/flotilla npm run --silent test:browser
	cd web && FLOTILLA_BIN=$(CURDIR)/target/debug/flotilla npm run --silent test:p2p

## Benchmarks against nginx, bare ffmpeg and targets (figures and ratios; never part of `make test`).
## `make bench BENCH=quick` is a shorter smoke run. See bench/README.md.
BENCH ?= full
bench:
	scripts/ensure-deps run
	scripts/bench $(BENCH)

build:
	$(CARGO) build --workspace

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
