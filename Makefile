# The two set-up commands of the README. Both install what they need first.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
EXTRAS ?= cpu,train,export,test,plot

.PHONY: install test quickstart quickstart-fast bench-slow

install:
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[$(EXTRAS)]" -c constraints.txt

test: install
	pytest

quickstart: install
	c4u quickstart --out quickstart_out

quickstart-fast: install
	c4u quickstart --fast --out quickstart_out

bench-slow: install
	pytest -m slow
