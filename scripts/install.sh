#!/usr/bin/env bash
# Idempotent installer behind `make install`: Debian packages trunkline and its tests use, and the
# virtualenv .venv with trunkline (editable) and its test tools. Safe to run again: it only adds
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# server and its tests (PostgreSQL); the agent (Open vSwitch, dnsmasq, ethtool); the lab's
# guests and the data-plane tests (dhclient, ping, tcpdump; tc/BPF VLANs need only iproute2);
# build-essential and python3-dev build uwsgi for the test Keystone; iperf3 for bench/dataplane.py
APT_PACKAGES=(python3-venv postgresql iproute2 curl build-essential python3-dev
              openvswitch-switch dnsmasq-base isc-dhcp-client iputils-ping ethtool tcpdump
              iperf3)
# the lab's QEMU guests (`lab vm create --qemu`): ~85 MB installed (docs/commands.md)
APT_PACKAGES+=(qemu-system-x86 busybox-static)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install] apt: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[install] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.trunkline-installed
# constraints.txt pins every package to the versions of a tested install (reproducible on any
# day); scripts/freeze-constraints.sh rewrites it after a deliberate upgrade
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "[install] pip: trunkline and test tools into .venv (constraints.txt)"
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
  .venv/bin/pip install -q -c constraints.txt -e '.[test]' 2>&1 | grep -v 'is ignored' || true
  .venv/bin/python -c 'import trunkline, sqlalchemy, alembic, uvicorn, orjson, psycopg, openstack'
  touch "$stamp"
fi
# A real Keystone for the auth tests, in its own virtualenv: keystone pins many libraries that
# must not leak into trunkline's. Served by uwsgi (built by pip: build-essential, python3-dev).
if [ ! -x .venv-keystone/bin/keystone-manage ] || [ ! -x .venv-keystone/bin/uwsgi ]; then
  echo "[install] pip: keystone and uwsgi into .venv-keystone (test Keystone)"
  [ -x .venv-keystone/bin/python ] || "$PY" -m venv .venv-keystone
  .venv-keystone/bin/pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
  .venv-keystone/bin/pip install -q -c constraints-keystone.txt keystone uwsgi 2>&1 \
    | grep -v 'is ignored' || true
  .venv-keystone/bin/python -c 'import keystone'
fi
# Nova's own JSON schema for os-server-external-events, which the tests' fake Nova checks the
# notifier's requests against: two files of the nova wheel from PyPI (never installed or imported).
NOVA_VERSION=34.0.0
NOVA_DIR=.venv/nova-wheel/$NOVA_VERSION
if [ ! -f $NOVA_DIR/nova/api/openstack/compute/schemas/server_external_events.py ]; then
  echo "[install] pip: nova $NOVA_VERSION wheel (the schema for the tests' fake Nova)"
  rm -rf .venv/nova-wheel && mkdir -p $NOVA_DIR
  .venv/bin/pip download -q --no-deps "nova==$NOVA_VERSION" -d .venv/nova-wheel 2>&1 | grep -v 'is ignored' || true
  .venv/bin/python - "$NOVA_DIR" .venv/nova-wheel/nova-$NOVA_VERSION-py3-none-any.whl <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[2]) as whl:
    for name in ("nova/api/openstack/compute/schemas/server_external_events.py",
                 "nova/objects/external_event.py"):
        whl.extract(name, sys.argv[1])
PY
  rm -f .venv/nova-wheel/*.whl
fi
# the QEMU guests' kernel: Debian's linux-image-amd64 unpacked into trunkline's cache (not
# installed; ~12 MB kept) and the initramfs built from busybox-static
if [ "$(id -u)" = 0 ] && [ ! -f /var/cache/trunkline/qemu/kernel/initramfs.gz ]; then
  echo "[install] QEMU guest kernel into /var/cache/trunkline/qemu"
  .venv/bin/python -c 'from trunkline.lab import qemu; print("  ", *qemu.prepare())'
fi
echo "[install] ready: .venv/bin/trunkline"
