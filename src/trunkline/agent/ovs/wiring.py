"""Reconcile one host's OVS with the desired state (docs/agent-channel.md, Neutron's layout).

One pass = ONE read (a transaction of selects), a diff against the desired state, ONE write
transaction (with `next_cfg += 1`, waiting for ovs-vswitchd's `cur_cfg`), then the br-int flows are
checked (`ovs-ofctl dump-flows` by cookie) and re-added with one `ovs-ofctl add-flows` batch when
missing — which is what happens after ovs-vswitchd restarts (flows are not persistent); the check
runs only when br-int's .mgmt socket is new (a new bridge or a restarted ovs-vswitchd), not on
every pass. br-tun and provider bridges: ovs/tunnels.py, ovs/provider.py.

A flows-only pass skips all of the OVSDB part when it could change nothing: the desired state's
OVSDB inputs (networks, ports and trunks but their status, the agent's plugs, the tunnel ports
the VTEPs need) are those of the last full pass, nothing changed in OVSDB since (the driver's
watchers call ``switch_changed``; only while ``watched``, i.e. an OVSDB monitor runs), br-int's
.mgmt socket is the same and the last full pass is less than ``FULL_PASS_EVERY`` seconds old.
What is left is br-tun's flows (a remote port came or went: L2 population's common case), from
the local VLANs and ofports the full pass found.

Layout: br-int (fail_mode secure, flows `priority=0 NORMAL` and a drop for VLAN 4095); a local VLAN
per network kept in each br-int Port's other_config (`net_uuid`, `network_type`,
`segmentation_id`, `tag`) so a restarted agent finds every tag again; ports found by Interface
external_ids:iface-id get the network's local VLAN (4095 = dead when unknown/admin down); per trunk
whose tbr- bridge exists with a VM port: tpi-/tpt- + parent id[:11] and spi-/spt- + subport
id[:11] patch pairs (tpt access tag 0, spt access tag = segmentation id); stale patch ports go;
a tbr that had service ports but no VM port left is deleted.
"""
import json
import logging
import os
import subprocess
import time

from trunkline.agent import ovsdb
from trunkline.agent.ovs.flows import file_id
from trunkline.agent.ovsdb import omap, named, uuid, py, opt

LOG = logging.getLogger(__name__)

DEAD_VLAN = 4095
FLOW_COOKIE = "0x7c1a0001"
SERVICE_PREFIXES = ("tpi-", "tpt-", "spi-", "spt-")
LVLAN_KEYS = ("net_uuid", "network_type", "physical_network", "segmentation_id", "tag")
OWNER_KEY = "trunkline-owner"
FULL_PASS_EVERY = 30.0      # seconds: a flows-only pass never trusts an older OVSDB read


def dev(prefix, port_id):
    """Neutron device name: prefix + id, cut to 15 characters (tpi-/spi-/...: id[:11])."""
    return (prefix + port_id)[:15]


def tbr_name(trunk_id):
    return ("tbr-" + trunk_id)[:14]


def flows_text(dead_vlan=DEAD_VLAN):
    return ("cookie=%s,priority=65535,dl_vlan=%d,actions=drop\n"
            "cookie=%s,priority=0,actions=NORMAL\n" % (FLOW_COOKIE, dead_vlan, FLOW_COOKIE))


class _Txn:
    """Collects the operations of one pass."""

    def __init__(self):
        self.ops = []
        self.add = {}       # bridge uuid -> [named/uuid refs]
        self.remove = {}    # bridge uuid -> [uuid refs]
        self._n = 0

    def name(self):
        self._n += 1
        return "row%d" % self._n

    def add_port(self, bridge, name, iface_row, port_row):
        """bridge: a uuid string or a named-uuid list (a bridge inserted in this pass)."""
        bridge = tuple(bridge) if isinstance(bridge, list) else ("uuid", bridge)
        iu, pu = self.name(), self.name()
        irow = dict(iface_row, name=name)
        prow = dict(port_row, name=name, interfaces=named(iu))
        self.ops.append({"op": "insert", "table": "Interface", "uuid-name": iu, "row": irow})
        self.ops.append({"op": "insert", "table": "Port", "uuid-name": pu, "row": prow})
        self.add.setdefault(bridge, []).append(named(pu))

    def add_bridge(self, name, datapath_type):
        """A secure-fail-mode bridge with its internal port, added to Open_vSwitch; returns the
        named-uuid ref other operations of this transaction use for it."""
        iu, pu, bu = self.name(), self.name(), self.name()
        self.ops += [
            {"op": "insert", "table": "Interface", "uuid-name": iu,
             "row": {"name": name, "type": "internal"}},
            {"op": "insert", "table": "Port", "uuid-name": pu,
             "row": {"name": name, "interfaces": named(iu)}},
            {"op": "insert", "table": "Bridge", "uuid-name": bu,
             "row": {"name": name, "ports": named(pu), "fail_mode": "secure",
                     "datapath_type": datapath_type,
                     "protocols": ["set", ["OpenFlow10", "OpenFlow13"]]}},
            {"op": "mutate", "table": "Open_vSwitch", "where": [],
             "mutations": [["bridges", "insert", ["set", [named(bu)]]]]},
        ]
        return named(bu)

    def del_port(self, bridge, port_uuid):
        bridge = tuple(bridge) if isinstance(bridge, list) else ("uuid", bridge)
        self.remove.setdefault(bridge, []).append(uuid(port_uuid))

    def update(self, table, row_uuid, row):
        self.ops.append({"op": "update", "table": table, "where": [["_uuid", "==", uuid(row_uuid)]],
                         "row": row})

    def finish(self):
        ops = list(self.ops)
        for b in set(self.add) | set(self.remove):
            muts = []
            if self.remove.get(b):
                muts.append(["ports", "delete", ["set", self.remove[b]]])
            if self.add.get(b):
                muts.append(["ports", "insert", ["set", self.add[b]]])
            ops.append({"op": "mutate", "table": "Bridge", "where": [["_uuid", "==", list(b)]],
                        "mutations": muts})
        return ops


class Snapshot:
    """OVSDB as read at the start of a pass."""

    def __init__(self, db):
        sel = lambda t, cols: {"op": "select", "table": t, "where": [], "columns": cols}
        res = db.transact([
            sel("Open_vSwitch", ["_uuid", "bridges"]),
            sel("Bridge", ["_uuid", "name", "ports", "datapath_type", "fail_mode"]),
            sel("Port", ["_uuid", "name", "tag", "vlan_mode", "other_config", "interfaces"]),
            sel("Interface", ["_uuid", "name", "type", "options", "external_ids", "ofport"]),
        ])
        self.root = res[0]["rows"][0]["_uuid"][1]
        self.bridges = {}
        for r in res[1]["rows"]:
            self.bridges[r["name"]] = {"uuid": r["_uuid"][1], "ports": _uuids(r["ports"]),
                                       "datapath_type": r["datapath_type"],
                                       "fail_mode": opt(r["fail_mode"])}
        self.ifaces = {}
        for r in res[3]["rows"]:
            self.ifaces[r["_uuid"][1]] = {"uuid": r["_uuid"][1], "name": r["name"],
                                          "type": r["type"], "options": py(r["options"]),
                                          "external_ids": py(r["external_ids"]),
                                          "ofport": opt(r["ofport"])}
        self.ports = {}
        for r in res[2]["rows"]:
            ifs = _uuids(r["interfaces"])
            self.ports[r["_uuid"][1]] = {"uuid": r["_uuid"][1], "name": r["name"],
                                         "tag": opt(r["tag"]), "vlan_mode": opt(r["vlan_mode"]),
                                         "other_config": py(r["other_config"]),
                                         "iface": self.ifaces.get(ifs[0]) if ifs else None}

    def ports_of(self, bridge):
        b = self.bridges.get(bridge)
        if not b:
            return {}
        return {self.ports[u]["name"]: self.ports[u] for u in b["ports"] if u in self.ports}


def _uuids(value):
    v = py(value)
    return v if isinstance(v, list) else [v]


class Wiring:
    """Reconciler for one OVS instance. `rundir` locates the bridges' mgmt sockets for ovs-ofctl
    (default the system's /var/run/openvswitch)."""

    def __init__(self, db, integration_bridge="br-int", datapath_type="netdev", rundir=None,
                 tunnels=None, providers=None):
        self.db = db if isinstance(db, ovsdb.Ovsdb) else ovsdb.Ovsdb(db)
        self.tunnels = tunnels      # a TunnelBridge (ovs/tunnels.py) when the host tunnels
        self.providers = providers  # ProviderBridges (ovs/provider.py) for its physnets
        self.br = integration_bridge
        self.datapath_type = datapath_type
        self.rundir = rundir or os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")
        self.last_timing = {}
        self._flows_checked = None      # br-int .mgmt socket identity when flows were checked
        self._switch_changed = True     # OVSDB changed (or may have) since the last full pass
        self.watched = False            # True while a monitor calls switch_changed on changes
        self._full = None               # the last full pass: its inputs, local VLANs, result

    def switch_changed(self):
        """OVSDB changed under us (a VM plugged, ovs-vswitchd restarted, a failed pass): the
        next pass reads it again."""
        self._switch_changed = True

    # -- flows -----------------------------------------------------------------
    def _ofctl(self, *args, input=None):
        target = "unix:%s/%s.mgmt" % (self.rundir, self.br)
        argv = ["ovs-ofctl"] + [a if a != "@BR" else target for a in args]
        p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(argv), p.stderr.strip()))
        return p.stdout

    def ensure_flows(self):
        """Re-add br-int's flows when any is missing (fresh bridge or restarted ovs-vswitchd)."""
        out = self._ofctl("dump-flows", "--no-stats", "@BR", "cookie=%s/-1" % FLOW_COOKIE)
        have = sum(1 for l in out.splitlines() if "cookie=" in l)
        if have >= 2:
            return False
        self._ofctl("add-flows", "@BR", "-", input=flows_text())
        return True

    # -- the pass --------------------------------------------------------------
    def reconcile(self, desired, plugs=(), wait=True):
        """Make OVS match `desired` (the host state dict). `plugs`: extra ports the agent owns
        on br-int, e.g. DHCP taps: [{"name", "iface_id", "mac", "network_id"}] — inserted when
        missing, removed when no longer listed. Returns {"ports": {...}, "trunks": {...}}."""
        t0 = time.monotonic()
        inputs = self._ovsdb_inputs(desired, plugs)
        mgmt = file_id(os.path.join(self.rundir, self.br + ".mgmt"))
        full = self._full
        if (full is not None and self.watched and not self._switch_changed
                and full["inputs"] == inputs and full["mgmt"] == mgmt
                and t0 - full["at"] < FULL_PASS_EVERY):
            return self._flows_only(desired, full, t0)
        self._switch_changed = False    # a change from now on makes the next pass full again
        self._full = None               # (until this pass succeeds)
        snap = Snapshot(self.db)
        txn = _Txn()
        nets = desired.get("networks") or {}
        ports = {p["id"]: p for p in desired.get("ports") or []}
        port_net = {pid: p.get("network_id") for pid, p in ports.items()}
        for t in desired.get("trunks") or []:
            for sp in t.get("sub_ports") or []:
                port_net.setdefault(sp["port_id"], sp.get("network_id"))
        plugs = {p["name"]: p for p in plugs}
        for p in plugs.values():
            port_net.setdefault(p["iface_id"], p.get("network_id"))

        br_uuid = self._ensure_bridge(snap, txn)
        int_ports = snap.ports_of(self.br)

        # local VLANs: what br-int ports remember, then the lowest free numbers
        lvlans, used = {}, set()
        for p in int_ports.values():
            oc = p["other_config"]
            if oc.get("net_uuid") and str(oc.get("tag", "")).isdigit():
                lvlans.setdefault(oc["net_uuid"], int(oc["tag"]))
                used.add(int(oc["tag"]))
        free = (v for v in range(1, DEAD_VLAN) if v not in used)

        def lvlan(net_id):
            if net_id not in lvlans:
                lvlans[net_id] = next(free)
            return lvlans[net_id]

        def wanted_other_config(old, net_id):
            oc = {k: v for k, v in old.items() if k not in LVLAN_KEYS}
            if net_id is None:
                return oc
            net = nets.get(net_id) or {}
            oc.update(net_uuid=net_id, network_type=net.get("network_type") or "",
                      segmentation_id=net.get("segmentation_id") or "", tag=lvlan(net_id))
            if net.get("physical_network"):
                oc["physical_network"] = net["physical_network"]
            return {k: str(v) for k, v in oc.items() if v != ""}

        def vif_net(port_id):
            """Network of a port wired on br-int, or None when it must be dead."""
            p = ports.get(port_id)
            if p is not None and not p.get("admin_state_up", True):
                return None
            if p is None and port_id not in port_net:
                return None
            net_id = port_net.get(port_id)
            return net_id if net_id else None

        # trunks: which patch ports should exist
        status_ports, status_trunks = {}, {}
        want_int = {}       # name -> (iface_id, mac, peer)
        want_tbr = {}       # tbr name -> {name: (iface_id, mac, peer, tag)}
        trunk_bridges = {}
        for t in desired.get("trunks") or []:
            tbr = t.get("bridge_name") or tbr_name(t["id"])
            trunk_bridges[tbr] = t
            tports = snap.ports_of(tbr)
            if not tports:
                continue
            vm = [n for n in tports if n != tbr and not n.startswith(SERVICE_PREFIXES)]
            if not vm:
                continue        # VM not plugged yet (or gone: handled below)
            parent = ports.get(t["port_id"]) or {}
            pmac = parent.get("mac_address") or ""
            pairs = [("tpi-", "tpt-", t["port_id"], pmac, 0)]
            for sp in t.get("sub_ports") or []:
                pairs.append(("spi-", "spt-", sp["port_id"], sp.get("mac_address") or "",
                              int(sp["segmentation_id"])))
            w = want_tbr.setdefault(tbr, {})
            for ip_, tp_, pid, mac, tag in pairs:
                a, b = dev(ip_, pid), dev(tp_, pid)
                want_int[a] = (pid, mac, b)
                w[b] = (pid, mac, a, tag)
            status_trunks[t["id"]] = "ACTIVE"
            # like Neutron: the parent's VM interface remembers its trunk (for removal by row)
            vif = tports[sorted(vm)[0]]["iface"]
            if vif is not None:
                ext = dict(vif["external_ids"], bridge_name=tbr, trunk_id=t["id"],
                           subport_ids=json.dumps(sorted(sp["port_id"]
                                                         for sp in t.get("sub_ports") or [])))
                if ext != vif["external_ids"]:
                    txn.update("Interface", vif["uuid"], {"external_ids": omap(ext)})

        def ext_ids(pid, mac, extra=None):
            e = {"iface-id": pid, "attached-mac": mac, "iface-status": "active"}
            e.update(extra or {})
            return omap(e)

        wired = set()
        # br-int: existing ports
        for name, p in int_ports.items():
            if name == self.br or p["iface"] is None:
                continue
            ext = p["iface"]["external_ids"]
            iid = ext.get("iface-id")
            if name.startswith(("tpi-", "spi-")) and name not in want_int:
                txn.del_port(br_uuid, p["uuid"])
                continue
            if ext.get(OWNER_KEY) == "dhcp" and name not in plugs:
                txn.del_port(br_uuid, p["uuid"])
                continue
            if not iid:
                continue
            net_id = vif_net(iid)
            tag = lvlan(net_id) if net_id else DEAD_VLAN
            oc = wanted_other_config(p["other_config"], net_id)
            row = {}
            if p["tag"] != tag:
                row["tag"] = tag
            if p["other_config"] != oc:
                row["other_config"] = omap(oc)
            if row:
                txn.update("Port", p["uuid"], row)
            if name in want_int:
                peer = want_int[name][2]
                if p["iface"]["options"].get("peer") != peer or p["iface"]["type"] != "patch":
                    txn.update("Interface", p["iface"]["uuid"],
                               {"type": "patch", "options": omap({"peer": peer})})
            if net_id and (p["iface"]["ofport"] or 0) > 0 or (net_id and name in want_int):
                wired.add(iid)
        # br-int: missing patch ports and plugs
        for name, (pid, mac, peer) in sorted(want_int.items()):
            if name in int_ports:
                continue
            net_id = vif_net(pid)
            tag = lvlan(net_id) if net_id else DEAD_VLAN
            txn.add_port(br_uuid, name,
                         {"type": "patch", "options": omap({"peer": peer}),
                          "external_ids": ext_ids(pid, mac)},
                         {"tag": tag, "other_config": omap(wanted_other_config({}, net_id))})
            if net_id:
                wired.add(pid)
        for name, pl in sorted(plugs.items()):
            if name in int_ports:
                continue
            net_id = vif_net(pl["iface_id"])
            tag = lvlan(net_id) if net_id else DEAD_VLAN
            txn.add_port(br_uuid, name,
                         {"external_ids": ext_ids(pl["iface_id"], pl.get("mac", ""),
                                                  {OWNER_KEY: "dhcp"})},
                         {"tag": tag, "other_config": omap(wanted_other_config({}, net_id))})
            if net_id:
                wired.add(pl["iface_id"])

        # trunk bridges
        for bname, b in snap.bridges.items():
            if not bname.startswith("tbr-"):
                continue
            tports = snap.ports_of(bname)
            want = want_tbr.get(bname, {})
            vm = [n for n in tports if n != bname and not n.startswith(SERVICE_PREFIXES)]
            service = [n for n in tports if n.startswith(SERVICE_PREFIXES)]
            if not vm and service:      # the VM left: the trunk bridge goes (with its patches)
                txn.ops.append({"op": "mutate", "table": "Open_vSwitch", "where": [],
                                "mutations": [["bridges", "delete", ["set", [uuid(b["uuid"])]]]]})
                continue
            for name, p in tports.items():
                if name.startswith(("tpt-", "spt-")) and name not in want:
                    txn.del_port(b["uuid"], p["uuid"])
            for name, (pid, mac, peer, tag) in sorted(want.items()):
                p = tports.get(name)
                if p is None:
                    txn.add_port(b["uuid"], name,
                                 {"type": "patch", "options": omap({"peer": peer}),
                                  "external_ids": ext_ids(pid, mac)},
                                 {"tag": tag, "vlan_mode": "access"})
                    continue
                row = {}
                if p["tag"] != tag:
                    row["tag"] = tag
                if p["vlan_mode"] != "access":
                    row["vlan_mode"] = "access"
                if row:
                    txn.update("Port", p["uuid"], row)

        tunnels = desired.get("tunnels") or {}
        if self.tunnels is not None:
            self.tunnels.plan(snap, txn, br_uuid, int_ports, tunnels)
        if self.providers is not None:
            self.providers.plan(snap, txn, br_uuid, int_ports)
        ops = txn.finish()
        t1 = time.monotonic()
        _, waited = self.db.commit(ops, wait=wait)
        t2 = time.monotonic()
        # only a new br-int or a (re)started ovs-vswitchd can lack the flows: both make the
        # bridge's .mgmt socket anew, so a pass checks them only when that socket changed
        mgmt = file_id(os.path.join(self.rundir, self.br + ".mgmt"))
        flows_added = False
        if mgmt is None or mgmt != self._flows_checked:
            flows_added = self.ensure_flows()
            self._flows_checked = mgmt
        if self.tunnels is not None:
            self.tunnels.apply_flows(self.db, lvlans, tunnels)
        if self.providers is not None:
            self.providers.apply_flows(self.db, lvlans, nets)
        self.last_timing = {"read_diff": t1 - t0, "commit": t2 - t1 - waited, "applied": waited,
                            "flows": time.monotonic() - t2, "ops": len(ops),
                            "flows_added": flows_added}
        for pid in ports:
            status_ports[pid] = "ACTIVE" if pid in wired else "DOWN"
        for t in desired.get("trunks") or []:
            if t["id"] in status_trunks and not all(
                    sp["port_id"] in wired for sp in t.get("sub_ports") or []):
                status_trunks[t["id"]] = "DEGRADED"
        result = {"ports": status_ports, "trunks": status_trunks}
        if not ops:     # what was read is what OVS holds: later passes may start from it
            self._full = {"inputs": inputs, "mgmt": mgmt, "at": t0, "lvlans": lvlans,
                          "result": result}
        return result

    def _ovsdb_inputs(self, desired, plugs):
        """What of the desired state the OVSDB part of a pass depends on (everything but
        statuses and the remote MACs of L2 population)."""
        def unstatused(items):
            return [{k: v for k, v in i.items() if k != "status"} for i in items or []]
        wanted_tunnels = (self.tunnels.wanted_ports(desired.get("tunnels") or {})
                          if self.tunnels is not None else None)
        return (desired.get("networks"), unstatused(desired.get("ports")),
                unstatused(desired.get("trunks")), list(plugs), wanted_tunnels)

    def _flows_only(self, desired, full, t0):
        """The pass when only br-tun's flows can differ (see the module's docstring)."""
        if self.tunnels is not None:
            self.tunnels.apply_flows(self.db, full["lvlans"], desired.get("tunnels") or {},
                                     reread_ofports=False)
        self.last_timing = {"read_diff": 0.0, "commit": 0.0, "applied": 0.0,
                            "flows": time.monotonic() - t0, "ops": 0, "flows_added": False,
                            "flows_only": True}
        return {"ports": dict(full["result"]["ports"]),
                "trunks": dict(full["result"]["trunks"])}

    def _ensure_bridge(self, snap, txn):
        b = snap.bridges.get(self.br)
        if b is None:
            return txn.add_bridge(self.br, self.datapath_type)  # inserted in this transaction
        row = {}
        if b["fail_mode"] != "secure":
            row["fail_mode"] = "secure"
        if b["datapath_type"] != self.datapath_type:
            row["datapath_type"] = self.datapath_type
        if row:
            txn.update("Bridge", b["uuid"], row)
        return b["uuid"]


def reconcile(db, desired, plugs=(), integration_bridge="br-int", datapath_type="netdev",
              rundir=None):
    """One-shot convenience wrapper around Wiring(...).reconcile(desired, plugs)."""
    return Wiring(db, integration_bridge, datapath_type, rundir).reconcile(desired, plugs)
