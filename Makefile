# trunkline: `make demo` and `make test` install what they need first (idempotent `make install`).
.PHONY: install demo test test-fast bench bench-wiring bench-dataplane bench-l2pop bench-load bench-agents \
	bench-auth tempest clean

install:
	@bash scripts/install.sh

demo: install
	.venv/bin/trunkline demo

test: install
	.venv/bin/python -m pytest tests

# no root, no Open vSwitch, SQLite only: the API, the channel and the agent's pure parts
test-fast: install
	.venv/bin/python -m pytest tests -q -m "not root and not ovs and not postgres and not slow"

bench: install
	.venv/bin/python bench/api.py

bench-wiring: install
	.venv/bin/python bench/wiring.py

bench-dataplane: install
	.venv/bin/python bench/dataplane.py

bench-l2pop: install
	.venv/bin/python bench/dataplane_control.py

bench-load: install
	.venv/bin/python bench/load.py

bench-agents: install
	.venv/bin/python bench/agents.py

bench-auth: install
	.venv/bin/python bench/auth.py

# upstream Neutron's API tests (tempest) against trunkline: opt-in, ~10 minutes;
# TEMPEST_ARGS="--regex ... --keep DIR" (see scripts/tempest_run.py --help)
tempest: install
	bash scripts/tempest.sh $(TEMPEST_ARGS)

clean:
	rm -rf .venv .venv-keystone .venv-tempest build src/*.egg-info .pytest_cache
