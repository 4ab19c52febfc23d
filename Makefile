# semcolor — `make help` lists every target. Each target installs what it needs into .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CLI := $(PY) -m semcolor

METHOD ?=
DATA ?= embedded
SIZE ?= 2048
TRAINER ?=
ARGS ?=
CKPT ?=
SWEEP ?=
INPUT ?=
OUTPUT ?=
TASK ?=
THREADS ?=
BUDGETS ?=
CLAIMS ?=
BUDGET ?=
SEEDS ?=
ROOT ?=
PROFILE ?=
METHODS ?=
CKPT_D ?=
CKPT_P ?=
RUNS ?=
OUT ?=

TRAINER_FLAG := $(if $(TRAINER),--trainer_config $(TRAINER),)

.DEFAULT_GOAL := help
.PHONY: help setup train eval predict recolor scene export-widths pd-curve smoke test test-full sweep agent clean distclean leaderboard claims publish-results

help: ## List every target with its variables
	@echo "semcolor: make <target> [VAR=value ...]"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'
	@echo "Variables: METHOD=<name> DATA=<dataset, default embedded> TRAINER=<gpu|ddp|smoke> ARGS='<CLI args>' CKPT=<path|last> INPUT= OUTPUT= (predict, recolor) SIZE= (scene)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the project with its dev extras

train: $(STAMP) ## Train METHOD on DATA (default: the embedded dataset); ARGS go to the CLI verbatim
	$(CLI) fit --method '$(METHOD)' --data '$(DATA)' $(TRAINER_FLAG) $(ARGS)

eval: $(STAMP) ## Evaluate CKPT of METHOD on DATA's test split (CLI `test`; training-free methods need no CKPT), writing results tables
	@if [ -z "$(CKPT)" ]; then $(PY) -m semcolor.registry needs-checkpoint '$(METHOD)'; rc=$$?; \
	  if [ $$rc = 0 ]; then echo "make eval: give CKPT=<path to a .ckpt> or CKPT=last"; exit 2; elif [ $$rc = 2 ]; then exit 2; fi; fi
	$(CLI) test --method '$(METHOD)' --data '$(DATA)' $(if $(CKPT),--ckpt_path '$(CKPT)',) $(TRAINER_FLAG) $(ARGS)
	@$(PY) -m semcolor.cli.results_table --after-eval '$(METHOD)' --data '$(DATA)' || true  # side-by-side table, for the methods that have one

predict: $(STAMP) ## Balance the GeoTIFF INPUT with CKPT (path or last) of METHOD into OUTPUT, blending overlapping windows
	@test -n "$(CKPT)" -a -n "$(INPUT)" -a -n "$(OUTPUT)" || { echo "make predict: give CKPT=<path to a .ckpt> or CKPT=last, INPUT=<scene .tif> and OUTPUT=<result .tif>"; exit 2; }
	@ckpt='$(CKPT)'; if [ "$$ckpt" = last ]; then ckpt=$$(ls -t $${SEMCOLOR_CKPTS:-ckpts}/'$(METHOD)'/'$(DATA)'-*/last.ckpt 2>/dev/null | head -n1); \
	  test -n "$$ckpt" || { echo "make predict: CKPT=last: no run of '$(METHOD)' on '$(DATA)' with a last.ckpt"; exit 2; }; fi; \
	  set -x; $(CLI) predict --method '$(METHOD)' --data '$(DATA)' --ckpt_path "$$ckpt" $(TRAINER_FLAG) --config experiments/trainer/predict.yaml --data.init_args.input='$(INPUT)' --trainer.callbacks.init_args.output='$(OUTPUT)' $(ARGS)

recolor: $(STAMP) ## Recolour the images in INPUT (a folder of images, or of group folders) consistently into OUTPUT (method palette; never overwrites)
	@test -n "$(INPUT)" -a -n "$(OUTPUT)" || { echo "make recolor: give INPUT=<folder of images or of group folders> and OUTPUT=<new folder>"; exit 2; }
	$(CLI) predict --method palette --data groups --config experiments/trainer/recolor.yaml --data.init_args.root='$(INPUT)' --trainer.callbacks.init_args.output='$(OUTPUT)' $(ARGS)

scene: $(STAMP) ## Write an embedded SIZE x SIZE scene (default 2048) as input/target GeoTIFFs under data/scenes, to try make predict on
	$(PY) -m semcolor.datamodules.embedded_geotiff --size '$(SIZE)'

pd-curve: $(STAMP) ## burstsr P-D curve of CKPT_D (theta_D) and CKPT_P (theta_P), or of RUNS="<run folders>": points CSV, P-D plane and AUR-vs-burst-length PNGs, AUR table into OUT
	@test -n "$(RUNS)" -o \( -n "$(CKPT_D)" -a -n "$(CKPT_P)" \) || { echo "make pd-curve: give CKPT_D=<distortion .ckpt> CKPT_P=<perception .ckpt>, or RUNS='<burstsr run folders>'"; exit 2; }
	@out='$(OUT)'; test -n "$$out" || out=$${SEMCOLOR_CKPTS:-ckpts}/burstsr-pd-$$(date +%Y%m%d-%H%M%S); set -x; \
	  $(PY) -m semcolor.cli.pd_curve $(if $(RUNS),--runs $(RUNS),) $(if $(CKPT_D),--ckpt-d '$(CKPT_D)' --ckpt-p '$(CKPT_P)',) --out "$$out" $(ARGS)

export-widths: $(STAMP) ## Export each width of the slimseg checkpoint CKPT as a static TorchScript/torch.export network, verified against the slimmable one
	@test -n "$(CKPT)" || { echo "make export-widths: give CKPT=<a slimseg .ckpt>"; exit 2; }
	$(PY) -m semcolor.widths.export '$(CKPT)' $(ARGS)

leaderboard: $(STAMP) ## Every method of TASK=<balance|colorize|render16|segment> and the classical baselines on DATA, BUDGET s per run (60), SEEDS seeds (3) -> results/TASK/leaderboard.{md,csv,png}; resumable; THREADS=1 on a shared CPU
	$(if $(THREADS),OMP_NUM_THREADS=$(THREADS),) $(PY) -m semcolor.cli.leaderboard --task '$(TASK)' --data '$(DATA)' $(if $(ROOT),--root '$(ROOT)',) $(if $(BUDGET),--budget '$(BUDGET)',) $(if $(SEEDS),--seeds '$(SEEDS)',) $(if $(PROFILE),--profile '$(PROFILE)',) $(if $(TRAINER),--trainer_config '$(TRAINER)',) $(if $(METHODS),--methods '$(METHODS)',) $(if $(ARGS),-- $(ARGS),)

claims: $(STAMP) ## Run the papers' testable claims (BUDGETS=30,90 s, SEEDS, THREADS) and write results/claims.md; resumable
	$(if $(THREADS),OMP_NUM_THREADS=$(THREADS),) $(PY) -m semcolor.cli.claims $(if $(BUDGETS),--budgets '$(BUDGETS)',) $(if $(SEEDS),--seeds '$(SEEDS)',) $(if $(PROFILE),--profile '$(PROFILE)',) $(if $(TRAINER),--trainer_config '$(TRAINER)',) $(if $(CLAIMS),--only '$(CLAIMS)',)

publish-results: ## Copy results/claims.md and results/<task>/leaderboard.{md,png} into docs/results/ (tracked)
	@mkdir -p docs/results
	@test -f results/claims.md && cp results/claims.md docs/results/claims.md || true
	@for d in results/*/; do t=$$(basename $$d); if [ -f $$d/leaderboard.md ]; then cp $$d/leaderboard.md docs/results/leaderboard-$$t.md; cp $$d/leaderboard.png docs/results/leaderboard-$$t.png 2>/dev/null || true; fi; done
	@ls docs/results

smoke: $(STAMP) ## fast_dev_run of every method x dataset config (CI smoke on tiny subsets)
	$(PY) -m pytest -q -p no:cacheprovider tests/cli/test_experiments.py -m "slow or not slow"

test: $(STAMP) ## Run the test suite (slow tests excluded)
	$(PY) -m pytest -q

test-full: $(STAMP) ## Run the test suite including slow tests
	$(PY) -m pytest -q -m "slow or not slow"

sweep: $(STAMP) ## Create the W&B sweep of METHOD (experiments/sweeps/METHOD.yaml); needs a W&B login
	@test -f experiments/sweeps/$(METHOD).yaml || { echo "make sweep: no sweep file experiments/sweeps/$(METHOD).yaml; have: $$(ls experiments/sweeps | sed 's/.yaml//' | tr '\n' ' ')"; exit 2; }
	$(VENV)/bin/wandb sweep --project $${WANDB_PROJECT:-semcolor} experiments/sweeps/$(METHOD).yaml

agent: $(STAMP) ## Run a W&B sweep agent for SWEEP=<entity/project/id>
	@test -n "$(SWEEP)" || { echo "make agent: give SWEEP=<entity/project/sweep id> (printed by make sweep)"; exit 2; }
	$(VENV)/bin/wandb agent $(SWEEP)

clean: ## Remove caches and build files (keeps .venv, data/ and every run under ckpts/)
	rm -rf build *.egg-info .pytest_cache
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean ## Also remove .venv and the generated embedded data (never ckpts/)
	rm -rf $(VENV) data/embedded
