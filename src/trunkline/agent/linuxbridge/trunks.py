"""Trunks on a Linux bridge host: each subport is a VLAN device ``tap<subport id>`` on its
parent's tap (8021q, or agent/vlan.py's tc/BPF emulation where the kernel lacks it), enslaved to
its own network's bridge like any tap. A trunk is ACTIVE once its parent's tap is here and every
subport device is, DEGRADED when one could not be made."""
import logging
from typing import Dict, Iterable, Mapping, Set, Tuple

from trunkline import constants as c
from trunkline import names

LOG = logging.getLogger(__name__)

SubportDevices = Dict[str, Tuple[str, int, str]]    # device -> (parent tap, VLAN id, trunk id)


def subport_devices(trunks: Iterable[dict]) -> SubportDevices:
    return {names.tap(sp["port_id"]): (names.tap(t["port_id"]), int(sp["segmentation_id"]),
                                       t["id"])
            for t in trunks for sp in t.get("sub_ports") or []}


def is_stale(link, parent: str, wanted: SubportDevices, links: Mapping) -> bool:
    """A VLAN device on a tap that is not a wanted subport device of that tap (or whose parent
    is gone: an emulated device outlives its parent)."""
    return (bool(parent) and parent.startswith(names.TAP_PREFIX)
            and link.name.startswith(names.TAP_PREFIX)
            and (parent not in links
                 or wanted.get(link.name, (None, None))[:2] != (parent, link.vlan_id)))


def add_missing(nl, wanted: SubportDevices, links: Mapping) -> Tuple[bool, Set[str]]:
    """Make the subport devices whose parent tap is here; (any made, trunks that failed)."""
    created, failed = False, set()
    for name, (parent, vid, trunk_id) in sorted(wanted.items()):
        if name in links or parent not in links:
            continue
        try:
            nl.add_vlan(links[parent], name, vid)
            created = True
        except Exception as e:
            LOG.warning("trunk %s: VLAN device %s (id %d) on %s failed: %s",
                        trunk_id, name, vid, parent, e)
            failed.add(trunk_id)
    return created, failed


def statuses(trunks: Iterable[dict], links: Mapping, ports: Mapping[str, str],
             failed: Set[str]) -> Dict[str, str]:
    out = {}
    for t in trunks:
        if names.tap(t["port_id"]) not in links:
            continue                      # the VM is not plugged here (yet)
        ok = t["id"] not in failed and all(
            ports.get(sp["port_id"]) == c.ACTIVE or names.tap(sp["port_id"]) in links
            for sp in t.get("sub_ports") or [])
        out[t["id"]] = c.ACTIVE if ok else c.DEGRADED
    return out
