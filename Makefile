# Two commands set everything up on a Debian host (as root):
#   make lab    install what the host needs, then build the lab and show how to open the site
#   make test   the same set-up, then the whole test suite (unit tests and a real lab of the tests' own)
VENV   := .venv
PYTHON ?= python3

.PHONY: lab test unit host host-test venv destroy clean

lab: host venv
	$(VENV)/bin/invoke build

test: host-test venv
	$(VENV)/bin/pytest

unit: venv
	$(VENV)/bin/pytest tests/unit

destroy: venv
	$(VENV)/bin/invoke destroy

host:
	@sh src/foobar_fab/host/bootstrap.sh

host-test:
	@sh src/foobar_fab/host/bootstrap.sh test

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache
