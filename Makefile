PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test demo bench clean

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-demo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[plot]'
	touch $@

test: $(VENV)/.installed-test
	$(PY) -m pytest -q

demo: $(VENV)/.installed-demo
	$(VENV)/bin/lsqbox fit examples/kinetics/job.toml --fresh
	$(VENV)/bin/lsqbox plot examples/kinetics/job.toml

bench: $(VENV)/.installed-test
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/run_all.py
	$(PY) benchmarks/bench_lm.py
	$(PY) benchmarks/nist_strd_lre.py --output docs/benchmarks_nist.md
	$(PY) benchmarks/nist_strd_lre.py --tight --output docs/benchmarks_nist_tight.md
	$(PY) benchmarks/nist_strd_lre.py --method lm --output docs/benchmarks_nist_lm.md
	$(PY) benchmarks/nist_strd_lre.py --method lm --tight --output docs/benchmarks_nist_lm_tight.md
	$(PY) benchmarks/more_wild/run.py
	$(PY) benchmarks/more_wild/run.py --noise
	$(PY) benchmarks/bench_calibration.py
	$(PY) benchmarks/bench_speculative.py
	$(PY) benchmarks/assemble_docs.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
