# NetShop — `make up` runs the platform, `make test` runs the suite. Both start with `make setup`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
NCA_VENV := .venv-nca
CHECKOV_VENV := .venv-checkov
STAMP := $(VENV)/.installed

.PHONY: setup up down status test test-all test-fast generate check validate clean sbom bench-generate prometheus-local screenshots bench-web docs docs-serve

setup: $(STAMP) $(NCA_VENV)/.installed $(CHECKOV_VENV)/.installed  ## create .venv (idempotent)

$(STAMP): pyproject.toml
	@scripts/ensure-system.sh
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test,platform,diagrams,docs,report]' 2>&1 | grep -v "is ignored" || true
	@$(PY) -c "import netshop, model, generators" && touch $(STAMP)

# network-config-analyzer pins exact versions of its dependencies, so it lives in its own venv
$(NCA_VENV)/.installed:
	@test -x $(NCA_VENV)/bin/python || python3 -m venv $(NCA_VENV)
	@$(NCA_VENV)/bin/pip install -q --disable-pip-version-check network-config-analyzer==2.1.0 2>&1 | grep -v "is ignored" || true
	@$(NCA_VENV)/bin/nca --help >/dev/null && touch $@

# checkov pins many of its dependencies, so it too lives in its own venv
$(CHECKOV_VENV)/.installed:
	@test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check checkov==3.3.30 2>&1 | grep -v "is ignored" || true
	@$(CHECKOV_VENV)/bin/checkov --version >/dev/null && touch $@

sbom: setup  ## CycloneDX SBOM of the Python environment -> build/sbom.cdx.json (not committed)
	@mkdir -p build
	$(VENV)/bin/cyclonedx-py environment --output-format JSON --output-file build/sbom.cdx.json $(PY)

generate: setup  ## rewrite generated/ from the model
	$(VENV)/bin/netshop generate

check: setup  ## fail if generated/ is stale
	$(VENV)/bin/netshop model validate
	$(VENV)/bin/netshop generate --check

up: setup  ## install what is missing, generate, start the whole platform locally, print the URLs
	@scripts/ensure-datastores.sh
	@$(VENV)/bin/netshop generate
	@$(VENV)/bin/netshop up

down:  ## stop the local platform
	@$(VENV)/bin/netshop down

status:  ## each service with its zone and health
	@$(VENV)/bin/netshop status

test: setup  ## the whole suite, slow suites in their bounded form (what .ci/run runs)
	@scripts/ensure-datastores.sh
	$(VENV)/bin/pytest -q -m "not slow"

test-all: setup  ## everything, including the unbounded slow suites
	@scripts/ensure-datastores.sh
	$(VENV)/bin/pytest -q

screenshots: setup  ## every web view at desktop and phone widths -> docs/assets/screenshots/ (Debian's Chromium)
	@scripts/ensure-datastores.sh
	$(PY) tests/web_screenshots.py docs/assets/screenshots

bench-web: setup  ## JS budget (< 150 KB gzipped) and home page interactive (< 1 s), measured in Chromium
	@scripts/ensure-datastores.sh
	$(PY) bench/web_pages.py

bench-generate: setup  ## time generate on NetShop and on models 10x and 100x its size
	$(PY) bench/generate_scaling.py

.PHONY: chaos
chaos: setup  ## fault injection: 500 checkouts under kills, broker cuts, slow/failing payments; every invariant checked
	@scripts/ensure-datastores.sh
	$(VENV)/bin/netshop chaos --checkouts 500

clean:
	rm -rf $(VENV) $(NCA_VENV) $(CHECKOV_VENV) .pytest_cache build

prometheus-local:  ## local Prometheus on 127.0.0.1:9090 scraping every service with the SLO rules (for `make up`)
	@command -v prometheus >/dev/null || { echo "prometheus is not installed (scripts/ensure-system.sh installs it)"; exit 0; }
	@mkdir -p .netshop/prometheus
	prometheus --config.file=generated/observability/local/prometheus.yml --storage.tsdb.path=.netshop/prometheus \
	  --web.listen-address=127.0.0.1:9090 --log.level=warn

.PHONY: report
report: setup  ## the companion report, English and Persian -> report/build/netshop-report.pdf, netshop-report-fa.pdf
	$(PY) -m report

docs: setup  ## the documentation site, offline, into site/ (mkdocs build --strict)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: setup  ## serve the documentation site on http://127.0.0.1:8088 with live reload
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8088
.PHONY: security
security: setup  ## fuzz every API (full pass), JWT/brute-force/injection/body/log/identity attacks -> bench/results/security-<ts>.json
	@scripts/ensure-datastores.sh
	$(PY) bench/security.py $(SECURITY_ARGS)

.PHONY: bench verify-report
BENCH_ARGS ?=
bench: setup  ## load and footprint of the whole platform, side by side (BENCH_ARGS=--soak: 100 users for 5 min) -> bench/results/
	@scripts/ensure-datastores.sh
	$(PY) bench/load.py $(BENCH_ARGS)

verify-report: setup  ## docs/verification.md from every bench/results/*.json (load, chaos, security)
	$(PY) -m netshop.verification
