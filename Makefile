# Flotilla's two commands: `make run` starts an instance, `make test` runs every check.
CARGO ?= cargo

.PHONY: run test bench build fmt lint

## Install what is missing, build, start an instance on http://localhost:9000 (SQLite, ./data).
run:
	scripts/ensure-deps run
	$(CARGO) build --release -p flotilla
	./target/release/flotilla serve

## Everything CI checks: formatting, clippy, unit and integration tests on SQLite and PostgreSQL.
test:
	scripts/ensure-deps test
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/with-postgres $(CARGO) nextest run --workspace --no-fail-fast

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
