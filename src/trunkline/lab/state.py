"""The lab's own bookkeeping: which VMs exist (their port, namespaces, bridge and OVSDB) and
which lab hosts (lab/host.py: namespace, switch, agent PID, underlay NICs), kept in
``<state dir>/state.json`` (default ``lab`` in trunkline's state directory) so ``trunkline lab down`` can
remove every lab resource even after the server is gone.  Updates are read-modify-write under
an flock and written atomically (temp file + rename)."""
import contextlib
import fcntl
import json
import os

from trunkline import constants

DEFAULT_STATE_DIR = os.path.join(constants.STATE_DIR, "lab")


class LabState:
    def __init__(self, state_dir=None):
        self.dir = state_dir or DEFAULT_STATE_DIR
        self.path = os.path.join(self.dir, "state.json")

    def load(self):
        try:
            with open(self.path) as f:
                data = json.load(f)
        except FileNotFoundError:
            data = {}
        data.setdefault("vms", {})
        data.setdefault("hosts", {})
        return data

    def _save(self, data):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def edit(self):
        """``with state.edit() as data: ...`` — locked read-modify-write."""
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.load()
            yield data
            self._save(data)

    def vms(self):
        return self.load()["vms"]

    def vm(self, name):
        return self.vms().get(name)

    def hosts(self):
        return self.load()["hosts"]

    def host(self, name):
        return self.hosts().get(name)
