# The two commands a reader needs: `make book` builds the HTML site, `make test` runs every test and
# executes every chapter. Each one creates .venv and installs the pinned dependencies on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MATHJAX_VERSION := 3.2.2
MATHJAX := _extra/mathjax/es5/tex-mml-chtml.js

.PHONY: help install book test check-site linkcheck linkcheck-sphinx clean
.DEFAULT_GOAL := help

help:
	@echo "make book        build the HTML book into _build/html (executes every chapter)"
	@echo "make test        run the library tests and execute every chapter with nbval"
	@echo "make check-site  open every built chapter in headless Chromium and check it"
	@echo "make linkcheck   check every link of _build/html offline (ONLINE=1 also fetches external links)"
	@echo "make linkcheck-sphinx  Sphinx's linkcheck builder over the sources, execution off (needs internet)"

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e '.[dev]'
	touch $@

# MathJax is served from the site itself so that maths renders offline (no CDN). It goes in _extra
# (copied to the site's root), not _static: Jupyter Book adds every .js file in _static to every page.
$(MATHJAX):
	rm -rf _extra/mathjax .mathjax-tmp
	mkdir -p .mathjax-tmp _extra
	cd .mathjax-tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	tar -xzf .mathjax-tmp/mathjax-$(MATHJAX_VERSION).tgz -C .mathjax-tmp
	mkdir -p _extra/mathjax
	cp -r .mathjax-tmp/package/es5 _extra/mathjax/es5
	rm -rf .mathjax-tmp

book: $(STAMP) $(MATHJAX)
	rm -rf _build/html
	$(BIN)/jupyter-book build . -W -n --keep-going

# One pytest session: the library's tests, then every chapter executed cell by cell by nbval. The log ends
# with the slowest tests and chapter cells, so the CI log shows where the time goes.
test: $(STAMP)
	$(BIN)/python -m pytest --nbval --durations=15 tests book/

# The browser check needs Debian's chromium and chromedriver; installed here when missing (needs root).
check-site: $(STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing chromium and chromium-driver (Debian packages)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	$(BIN)/python tools/check_site.py _build/html $(CHECK_SITE_FLAGS)

# Every link of the built site: internal links and #fragments resolve, TOC pages are reachable, external
# URLs are well formed. Offline by default; `make linkcheck ONLINE=1` also fetches each external link.
ONLINE ?=
linkcheck: $(STAMP)
	$(BIN)/python tools/linkcheck.py _build/html $(if $(ONLINE),--online) $(LINKCHECK_FLAGS)

# Sphinx's own linkcheck builder (needs internet): the links in the chapters' text, with their #anchors on
# remote pages. The chapters are not executed (a copy of _config.yml with execution off); the report is in
# _build/sphinx-linkcheck/_build/html/output.txt.
SPHINX_LINKCHECK := _build/sphinx-linkcheck
linkcheck-sphinx: $(STAMP)
	mkdir -p $(SPHINX_LINKCHECK)
	sed -e 's/execute_notebooks: force/execute_notebooks: "off"/' -e 's|: _ext/$$|: $(CURDIR)/_ext/|' \
	  _config.yml > $(SPHINX_LINKCHECK)/_config.yml
	grep -q 'execute_notebooks: "off"' $(SPHINX_LINKCHECK)/_config.yml
	$(BIN)/jupyter-book build . --builder linkcheck --config $(SPHINX_LINKCHECK)/_config.yml \
	  --path-output $(SPHINX_LINKCHECK)

clean:
	rm -rf _build .pytest_cache .hypothesis
