# trunkline: `make demo` and `make test` install what they need first (idempotent `make install`).
.PHONY: install demo test bench clean

install:
	@bash scripts/install.sh

demo: install
	.venv/bin/trunkline demo

test: install
	.venv/bin/python -m pytest tests

bench: install
	.venv/bin/python bench/api.py

clean:
	rm -rf .venv build src/*.egg-info .pytest_cache
