# The two set-up commands of the README. Both install what they need first.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
EXTRAS ?= cpu,train,export,export-openvino,ray,test,plot
# What `c4u quickstart` runs: training (in export), export, the CPU runtime, plots; not the test tools.
QUICKSTART_EXTRAS := cpu,export,plot
# The Qwen test fixtures read qwen.tiktoken out of this wheel (tests/hub_tokenizers.py); it is downloaded, never installed.
QWEN_VOCAB_WHEEL := dashscope==2.0.2
TEST_CACHE := build/test-cache

.PHONY: install test test-data browser lint-imports quickstart quickstart-fast bench-slow

install:
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[$(EXTRAS)]" -c constraints.txt

test-data:
	$(PIP) download --no-deps "$(QWEN_VOCAB_WHEEL)" -d $(TEST_CACHE)

# Debian's chromium for the page's browser test (tests/serve/test_serve_page.py, Playwright drives it; it never
# downloads a browser). Without apt-get or root, or when apt fails, nothing fails here: that test is skipped with the reason.
browser:
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null) \
		|| echo "chromium not installed: apt-get failed; the browser test will be skipped"; \
	else echo "chromium not installed (no apt-get, or not root); the browser test will be skipped"; fi

test: install test-data browser
	$(MAKE) lint-imports
	$(PYTHON) -m mkdocs build --strict  # the docs site into build/site; a broken link or anchor fails
	pytest

# Stage boundaries (contracts in pyproject.toml). import-linter reads packages from disk, and the stage
# folders are mapped into creative4u_small only when installed, so it checks a plain (non-editable) copy.
lint-imports:
	rm -rf build/lint-site
	$(PIP) install -q --no-deps --target build/lint-site .
	cd build && PYTHONPATH=lint-site lint-imports ../pyproject.toml

quickstart quickstart-fast: EXTRAS = $(QUICKSTART_EXTRAS)

quickstart: install
	c4u quickstart --out quickstart_out

quickstart-fast: install
	c4u quickstart --fast --out quickstart_out

bench-slow: install
	pytest -m slow
