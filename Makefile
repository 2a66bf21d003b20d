# Warden — the README's two commands are `make demo` and `make test`.
# Every target sets up what it needs itself (see scripts/).

SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: demo test fmt-check clippy unit tf-check tf-setup build bench clean

## The main job: a local end-to-end run of Warden.
demo:
	bash scripts/demo.sh

## Everything CI checks: formatting, lints, unit + integration + property tests, and the static
## Terraform checks (fmt, provider schema, references, policy linter, checkov).
test: fmt-check clippy unit tf-check
	@echo "make test: all checks passed"

## Static Terraform checks on every stack, plus proof that seeded mistakes are caught.
tf-check:
	bash scripts/tf-check.sh

## Installs the Terraform check tools into .cache/ and .tools/ (done by tf-check itself).
tf-setup:
	bash scripts/tf-setup.sh

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	bash scripts/test.sh

build:
	$(CARGO) build --workspace --locked

## Benchmarks (criterion); figures go in the README's performance section.
bench:
	$(CARGO) bench -p warden-core --bench policy

clean:
	$(CARGO) clean
