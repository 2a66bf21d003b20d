# Warden — the README's two commands are `make demo` and `make test`.
# Every target sets up what it needs itself (see scripts/).

SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: demo test fmt-check clippy unit tf-check tf-setup build bench lambdas clean

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

## The Lambda zips Terraform deploys: target/lambda/<function>/bootstrap.zip (provided.al2023, arm64).
## cargo-lambda and zig come from PyPI into .tools/lambda-venv.
LAMBDAS := access-logger access-request access-validator approval-processor audit-replay cost-reporter expiration-enforcer governance-check policy-reconciler
lambdas:
	@[ -x .tools/lambda-venv/bin/cargo-lambda ] || (python3 -m venv .tools/lambda-venv && .tools/lambda-venv/bin/pip install --quiet cargo-lambda ziglang)
	PATH="$(CURDIR)/.tools/lambda-venv/bin:$$PATH" XDG_CACHE_HOME="$(CURDIR)/.cache" ZIG_GLOBAL_CACHE_DIR="$(CURDIR)/.cache/zig" \
	  cargo lambda build --release --arm64 --output-format zip $(addprefix -p ,$(LAMBDAS))

## Benchmarks (criterion); figures go in the README's performance section.
bench:
	$(CARGO) bench -p warden-core --bench policy

clean:
	$(CARGO) clean
