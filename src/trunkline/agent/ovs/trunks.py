"""Trunks on Open vSwitch, as Neutron's OVS trunk driver wires them: os-vif plugs a trunk
parent's VM into its own bridge ``tbr-<trunk id>``; once that bridge holds the VM's port, this
planner joins it to br-int with one patch pair per member:

    parent    tpi-<parent id> (br-int) <-> tpt-<parent id> (tbr, access tag 0: untagged)
    subport   spi-<subport id> (br-int) <-> spt-<subport id> (tbr, access tag = its
              segmentation id)

The br-int ends carry the member's ``iface-id`` and get their network's local VLAN like any VIF,
so a subport's VLAN on the VM's link becomes its network's local VLAN on br-int. Patch ports of
members that left go; a trunk bridge whose VM left (only patch ports remain) is deleted with
them. As Neutron does, the parent's VM interface remembers its trunk in its external_ids
(``bridge_name``, ``trunk_id``, ``subport_ids``).

Statuses wait for the VM: os-vif adds the VM's Interface row before the hypervisor creates its
tap, and until ovs-vswitchd has opened it (an OpenFlow port, no error) the patches are laid but
the parent and its subports stay DOWN and no trunk status is reported (a new trunk stays DOWN;
one that was up keeps its status, as Neutron's trunk driver reports nothing on the way down).
Once the tap is there and ovs-vswitchd has opened the members' br-int patch ends (a patch the
pass just added has no OpenFlow port yet: its member waits for the next pass, which the
switch monitor starts when the port opens), the trunk is ACTIVE, or DEGRADED when a subport is
not wired."""
import json
from typing import Dict, Tuple

from trunkline import constants as c
from trunkline import names
from trunkline.agent.ovs.integration import external_ids
from trunkline.agent.ovs.planner import Pass, vif_up

_INT_ENDS = (names.TRUNK_INT_PATCH, names.SUBPORT_INT_PATCH)
_TBR_ENDS = (names.TRUNK_TBR_PATCH, names.SUBPORT_TBR_PATCH)


class TrunkPlanner:
    cookie = None
    adopt_flows = False

    def plan(self, p: Pass) -> None:
        sw = p.switch
        want_int: Dict[str, Tuple[str, str, str]] = {}      # name -> (port id, mac, peer)
        want_tbr: Dict[str, Dict[str, tuple]] = {}          # tbr -> {name: (id, mac, peer, tag)}
        vm_up = set()                                       # members whose VM's tap is there
        for t in p.trunks:
            tbr = t.get("bridge_name") or names.trunk_bridge(t["id"])
            vm = _vm_ports(tbr, sw.ports_of(tbr))
            if not vm:
                continue        # the VM is not plugged (yet), or gone: its bridge goes below
            parent = p.ports.get(t["port_id"]) or {}
            members = [(names.TRUNK_INT_PATCH, names.TRUNK_TBR_PATCH, t["port_id"],
                        parent.get("mac_address") or "", 0)]
            members += [(names.SUBPORT_INT_PATCH, names.SUBPORT_TBR_PATCH, sp["port_id"],
                         sp.get("mac_address") or "", int(sp["segmentation_id"]))
                        for sp in t.get("sub_ports") or []]
            ends = want_tbr.setdefault(tbr, {})
            vif = sw.ports_of(tbr)[vm[0]]["iface"]
            for int_prefix, tbr_prefix, pid, mac, tag in members:
                a, b = names.trunk_patch(int_prefix, pid), names.trunk_patch(tbr_prefix, pid)
                want_int[a] = (pid, mac, b)
                ends[b] = (pid, mac, a, tag)
            if vif_up(vif):
                vm_up.update(m[2] for m in members)
                p.trunk_status[t["id"]] = c.ACTIVE
            if vif is not None:
                subports = sorted(sp["port_id"] for sp in t.get("sub_ports") or [])
                sw.set_interface(tbr, vm[0], external_ids=dict(
                    vif["external_ids"], bridge_name=tbr, trunk_id=t["id"],
                    subport_ids=json.dumps(subports)))
        pending = self._plan_int(p, want_int, vm_up)
        self._plan_trunk_bridges(p, want_tbr)
        for t in p.trunks:
            members = [t["port_id"]] + [sp["port_id"] for sp in t.get("sub_ports") or []]
            if t["id"] not in p.trunk_status:
                continue
            if pending.intersection(members):
                # ovs-vswitchd has not opened a member's patch yet: the next pass, woken when
                # it has, reports the trunk (ACTIVE then, not a passing DEGRADED)
                del p.trunk_status[t["id"]]
            elif not all(sp["port_id"] in p.wired for sp in t.get("sub_ports") or []):
                p.trunk_status[t["id"]] = c.DEGRADED

    @staticmethod
    def _plan_int(p: Pass, want: Dict[str, Tuple[str, str, str]], vm_up: set) -> set:
        """br-int's ends: stale ones go, wrong peers are fixed, missing ones are added; a
        member with a network is wired once its VM's tap is there and ovs-vswitchd has opened
        its br-int end (an OpenFlow port: frames pass). Returns the members still waiting for
        that."""
        sw, br = p.switch, p.br_int
        have = sw.ports_of(br)
        pending = set()
        for name, port in have.items():
            if name.startswith(_INT_ENDS) and name not in want:
                sw.del_port(br, name)
            elif name in want and port["iface"] is not None:
                sw.set_interface(br, name, type="patch", options={"peer": want[name][2]})
        for name, (pid, mac, peer) in sorted(want.items()):
            net_id = p.network_of(pid)
            sw.add_port(br, name, {"type": "patch", "options": {"peer": peer},
                                   "external_ids": external_ids(pid, mac)},
                        {"tag": p.tag(net_id), "other_config": p.other_config({}, net_id)})
            if net_id and pid in vm_up:
                if name in have and vif_up(have[name]["iface"]):
                    p.wired.add(pid)
                else:
                    pending.add(pid)
        return pending

    @staticmethod
    def _plan_trunk_bridges(p: Pass, want_tbr: Dict[str, Dict[str, tuple]]) -> None:
        sw = p.switch
        for bname in sorted(sw.snap.bridges):
            if not bname.startswith(names.TRUNK_BRIDGE_PREFIX):
                continue
            have = sw.ports_of(bname)
            if not _vm_ports(bname, have) and any(
                    n.startswith(names.TRUNK_PATCH_PREFIXES) for n in have):
                sw.del_bridge(bname)        # the VM left: the trunk bridge goes
                continue
            want = want_tbr.get(bname, {})
            for name in have:
                if name.startswith(_TBR_ENDS) and name not in want:
                    sw.del_port(bname, name)
            for name, (pid, mac, peer, tag) in sorted(want.items()):
                if name in have:
                    sw.set_port(bname, name, tag=tag, vlan_mode="access")
                else:
                    sw.add_port(bname, name, {"type": "patch", "options": {"peer": peer},
                                              "external_ids": external_ids(pid, mac)},
                                {"tag": tag, "vlan_mode": "access"})

    def flows(self, p: Pass) -> Dict[str, list]:
        return {}


def _vm_ports(bridge: str, ports: Dict[str, dict]) -> list:
    """The trunk bridge's ports that are not the bridge's own nor trunk patches: the VM's."""
    return sorted(n for n in ports
                  if n != bridge and not n.startswith(names.TRUNK_PATCH_PREFIXES))
