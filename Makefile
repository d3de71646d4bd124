# Fresh machine: `make demo` runs the main job on a local registry; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= .demo

.PHONY: demo test lint venv bench clean

$(BIN)/kserve-gitops: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	npm ci --no-audit --no-fund --silent
	touch $@

venv: $(BIN)/kserve-gitops

# Train the wine model into a local MLflow (S3 artifacts on a local moto server), move aliases,
# then run `kserve-gitops generate` on a scratch copy of models.yaml and show what it wrote.
demo: $(BIN)/kserve-gitops
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)/repo && cp models.yaml $(DEMO_DIR)/repo/
	$(BIN)/python -m devtools.demo --workdir $(DEMO_DIR) --then \
		$(BIN)/kserve-gitops generate --repo $(DEMO_DIR)/repo --crd-dir schemas/crds
	cd $(DEMO_DIR)/repo && for f in models.lock $$(find environments -type f | sort) kustomization.yaml; do \
		printf '\n==> %s <==\n' "$$f"; cat "$$f"; done

lint: $(BIN)/kserve-gitops
	$(BIN)/ruff check generator storage_initializer devtools tests bench
	$(BIN)/ruff format --check generator storage_initializer devtools tests bench
	$(BIN)/mypy

# The tests fetch the pinned CRDs first (`kserve-gitops schemas fetch`; KSERVE_GITOPS_CRD_BASE_URL for a mirror).
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup -p no:cacheprovider

bench: $(BIN)/kserve-gitops
	$(BIN)/python -m bench.generate

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info node_modules
