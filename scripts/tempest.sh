#!/usr/bin/env bash
# `make tempest`: upstream Neutron's API tests (tempest + neutron-tempest-plugin from PyPI) against
# trunkline. Installs them into .venv-tempest when missing (idempotent), then runs
# scripts/tempest_run.py, which starts a private Keystone and trunkline on free 127.0.0.1 ports,
# writes tempest.conf, runs the selection, prints tempest's summary and removes what it started.
# Options go to scripts/tempest_run.py (--help). Opt-in: not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh >/dev/null
if [ ! -x .venv-tempest/bin/tempest ] || \
    ! .venv-tempest/bin/python -c 'import neutron_tempest_plugin' 2>/dev/null; then
  echo "[tempest] pip: tempest and neutron-tempest-plugin into .venv-tempest"
  [ -x .venv-tempest/bin/python ] || "${PYTHON:-python3}" -m venv .venv-tempest
  .venv-tempest/bin/pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
  .venv-tempest/bin/pip install -q tempest neutron-tempest-plugin 2>&1 | grep -v 'is ignored' || true
  .venv-tempest/bin/python -c 'import tempest, neutron_tempest_plugin'
fi
exec .venv/bin/python scripts/tempest_run.py "$@"
