# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# Without CUDA, take the CPU build of torch (a local wheel where there is one, else the CPU index),
# never the multi-GB CUDA build that a plain `pip install torch` pulls on Linux. Only torch itself
# comes from that index (--no-deps); its dependencies come with the package install below.
TORCH_SPEC ?= torch==2.13.0
TORCH_CPU_INDEX ?= --extra-index-url https://download.pytorch.org/whl/cpu
HAS_CUDA := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo yes)

.PHONY: demo test wheel-check install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --no-deps $(TORCH_SPEC) $(if $(HAS_CUDA),,$(TORCH_CPU_INDEX))
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/chartlnn demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

# A plain install works: build the wheel, install it into a fresh venv that sees the dependencies
# of $(VENV) but not this source tree, and run the demo from an empty folder.
WHEEL_VENV ?= build/wheel-venv
wheel-check: $(BIN)/.installed
	rm -rf dist $(WHEEL_VENV) build/wheel-run
	$(BIN)/pip wheel -q --no-deps . -w dist
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(BIN)/python -c "import site; print(site.getsitepackages()[0])" > $$($(WHEEL_VENV)/bin/python -c "import site; print(site.getsitepackages()[0])")/chartlnn-deps.pth
	$(WHEEL_VENV)/bin/pip install -q --no-deps dist/chartlnn-*.whl
	mkdir -p build/wheel-run
	cd build/wheel-run && ../../$(WHEEL_VENV)/bin/python -c "import chartlnn, sys; assert 'site-packages' in chartlnn.__file__, chartlnn.__file__"
	cd build/wheel-run && ../../$(WHEEL_VENV)/bin/chartlnn demo --out demo

clean:
	rm -rf $(VENV) runs build dist
