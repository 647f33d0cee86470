# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates .venv, installs requirements.txt and makes the VGG19 weights available (python -m nst.weights).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test lab weights clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

weights: $(VENV)/.installed
	$(PY) -m nst.weights

demo: weights  ## stylise the demo pairs of data/ into outputs/
	$(PY) -m nst

test: weights  ## unit tests, then the notebooks in quick mode
	$(PY) -m pytest

lab: weights  ## JupyterLab on the notebooks, in the same environment (as root too: containers, Colab-like VMs)
	$(VENV)/bin/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf $(VENV) outputs .pytest_cache
