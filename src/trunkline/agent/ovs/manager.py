"""The OVSDB manager part of an OVS pass: the switch's ovsdb-server also listens where os-vif
connects to it. os-vif's ``ovsdb_connection`` is ``tcp:127.0.0.1:6640`` by default, and Neutron's
OVS agent makes that work by adding the manager ``ptcp:6640:127.0.0.1`` to the Open_vSwitch
row's manager_options; this planner does the same in the pass's transaction, only when the
manager is not there yet. Managers that others added stay, and one this agent no longer wants
is left alone too (as Neutron's agent leaves it).

ovsdb-server serves the managers only when started with
``--remote=db:Open_vSwitch,Open_vSwitch,manager_options`` (the distributions' ovs-ctl does;
trunkline's private OVS instances, ovs/daemon.py, too)."""
import re
from typing import Dict, Optional

from trunkline.agent.ovs.planner import Pass

DEFAULT = "ptcp:6640:127.0.0.1"
_PASSIVE_INET = re.compile(r"^p(tcp|ssl):(\d{1,5})(:(\[[0-9A-Fa-f:.]+\]|[0-9.]+))?$")


def parse(value: str) -> Optional[str]:
    """A manager target as an operator gives it: ``ptcp:PORT[:IP]``, ``pssl:PORT[:IP]``,
    ``punix:PATH``, or ``none`` (no manager: None). Raises ValueError otherwise."""
    value = (value or "").strip()
    if value.lower() == "none":
        return None
    m = _PASSIVE_INET.match(value)
    if m and 0 < int(m.group(2)) < 65536:
        return value
    if value.startswith("punix:") and len(value) > len("punix:"):
        return value
    raise ValueError("an OVSDB manager is ptcp:PORT[:IP], pssl:PORT[:IP], punix:PATH or "
                     "none, not %r" % value)


class OvsdbManager:
    cookie = None
    adopt_flows = False

    def __init__(self, target: str = DEFAULT):
        self.target = target

    def plan(self, p: Pass) -> None:
        p.switch.add_manager(self.target)

    def flows(self, p: Pass) -> Dict[str, list]:
        return {}
