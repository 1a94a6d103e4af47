"""The README's ten-line tour as a user types it — its lines read from README.md and run by bash
in a private network namespace (``trunkline up &`` waits for its ``export`` line, as a user
does) — leaves a lease on the VM's VLAN and, after ``trunkline lab down; kill %1``, nothing
behind."""
import os
import re
import sqlite3
import subprocess

import pytest

from helpers.dataplane import needs_root_ovs
from helpers.upns import NOTHING, UpNamespace

pytestmark = needs_root_ovs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def ns():
    n = UpNamespace()
    yield n
    n.close()


def tour():
    """The tour's command lines, continuation lines joined."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    block = text.split("## A ten-line tour", 1)[1].split("```", 2)[1]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_readme_tour_verbatim(ns):
    lines = tour()
    assert lines[0].startswith("export PATH=$PWD/.venv/bin:$PATH")
    assert lines[1].startswith("trunkline up &")
    assert lines[-1].startswith("trunkline lab down; kill %1")
    # the user waits for the `export` line; the script does the same
    script = "\n".join(
        [lines[0],
         "trunkline up > $UP_OUT 2>&1 &",
         "until grep -q '^export OS_AUTH_TYPE' $UP_OUT; do kill -0 %1 || { cat $UP_OUT; "
         "exit 1; }; sleep 0.2; done"]
        + lines[2:] + ["wait %1 || true", "cat $UP_OUT"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(TRUNKLINE_STATE_DIR=ns.root, UP_OUT=os.path.join(ns.root, "up.out"))
    r = subprocess.run(ns.argv("bash", "-e", "-c", script), cwd=REPO, capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert re.search(r"^eth0\.1@\S+\s+UP\s+10\.0\.5\.\d+/24", r.stdout, re.M), r.stdout
    assert "lab down: removed" in r.stdout
    db = sqlite3.connect(os.path.join(ns.root, "trunkline.db"))
    net_ids = [row[0] for row in db.execute("SELECT id FROM networks")]
    db.close()
    assert len(net_ids) == 2
    assert ns.leftovers(state_dirs=[ns.root], net_ids=net_ids) == NOTHING
