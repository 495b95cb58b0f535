# mwlc: `make demo` runs the whole workflow offline on bundled synthetic archives;
# `make test` runs the test suite. Both create .venv first when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CORES ?= 2

.PHONY: demo test lint clean-demo

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,slurm]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml \
		--report results/demo/report.html --report-after-run
	@echo "Demo outputs (SYNTHETIC data): results/demo/; report: results/demo/report.html"

test: $(INSTALLED)
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakemake --lint --configfile config/demo.yaml
	$(BIN)/snakefmt --check workflow/

clean-demo:
	rm -rf results/demo logs/demo resources/demo
