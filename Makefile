# iff-engine: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_SIZE ?= 200000
DEMO_DIR  := .cache/demo

.PHONY: demo test lint typecheck clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m benchmarks.generate --size $(DEMO_SIZE) --seed 7 --out $(DEMO_DIR)/data
	$(BIN)/iff scan $(DEMO_DIR)/data/transactions-*.parquet --accounts $(DEMO_DIR)/data/accounts.parquet \
		--out $(DEMO_DIR)/out --force
	@echo "Top alerts:"
	@$(BIN)/python -c "import polars as pl; pl.Config.set_tbl_width_chars(160); pl.Config.set_fmt_str_lengths(90); print(pl.read_parquet('$(DEMO_DIR)/out/alerts.parquet').select('rank','subject_id','risk_score','likely_role','typology_ids','reasons').head(10))"
	@echo "Outputs: $(DEMO_DIR)/out/ (alerts, account_scores, hits, evidence, rejects, manifest.json)"
	@echo "Case report (open in a browser, works offline):"
	@$(BIN)/iff report $(DEMO_DIR)/out

test: $(STAMP)
	$(BIN)/ruff check engine benchmarks tests
	$(BIN)/mypy engine benchmarks
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check engine benchmarks tests

typecheck: $(STAMP)
	$(BIN)/mypy engine benchmarks

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
