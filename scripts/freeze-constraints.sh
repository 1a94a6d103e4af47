#!/usr/bin/env bash
# Rewrite constraints.txt and constraints-keystone.txt from the working virtualenvs (after a
# deliberate upgrade that passed the tests): `make install` then reproduces exactly these
# versions on any day.
set -euo pipefail
cd "$(dirname "$0")/.."
freeze() {  # venv, file, what
  { echo "# pip constraints for $1 ($3), frozen"
    echo "# $(date -u +%Y-%m-%d) from $1/bin/pip freeze; regenerate with scripts/freeze-constraints.sh"
    "$1/bin/pip" freeze --exclude-editable 2>/dev/null | grep -v '^-e\|@ file:'
  } > "$2"
}
freeze .venv constraints.txt "make install: trunkline's dependencies and test tools"
freeze .venv-keystone constraints-keystone.txt "the test Keystone and uwsgi"
