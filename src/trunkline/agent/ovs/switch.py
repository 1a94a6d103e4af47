"""One pass's view of an Open vSwitch: what OVSDB held when the pass began (``Snapshot``, one
read) and the changes the pass makes (``Switch``), spelled as ovsdbapp's verbs — ``add_bridge``,
``add_port(may_exist=True)``, ``del_port(if_exists=True)``, ``set_port``, ``add_manager`` —
but collected into the pass's ONE raw OVSDB transaction instead of one IDL transaction per
command.

Rows are named as an operator names them (a bridge, a port on a bridge); the verbs compare with
the snapshot and queue only what differs, so a pass over a switch that is already right queues
nothing. Column values are Python values (dicts for maps, lists for sets)."""
from typing import Any, Dict, List, Optional

from trunkline.agent.ovsdb import Ovsdb, named, omap, opt, py, uuid

_MAPS = ("other_config", "options", "external_ids")
_SETS = ("protocols",)
SECURE = "secure"
PROTOCOLS = ["OpenFlow10", "OpenFlow13"]    # ovs-ofctl -O OpenFlow13 bundles need 1.3


def _datum(column: str, value: Any) -> Any:
    if column in _MAPS:
        return omap(value)
    if column in _SETS:
        return ["set", list(value)]
    if value is None:
        return ["set", []]
    return value


def _uuids(value) -> List[str]:
    v = py(value)
    return v if isinstance(v, list) else [v]


class Snapshot:
    """OVSDB as read at the start of a pass: bridges, ports and interfaces by uuid, in one
    ``transact`` of selects."""

    def __init__(self, db: Ovsdb):
        def sel(table, columns):
            return {"op": "select", "table": table, "where": [], "columns": columns}
        res = db.transact([
            sel("Open_vSwitch", ["_uuid", "bridges", "manager_options"]),
            sel("Bridge", ["_uuid", "name", "ports", "datapath_type", "fail_mode", "protocols"]),
            sel("Port", ["_uuid", "name", "tag", "vlan_mode", "other_config", "interfaces"]),
            sel("Interface", ["_uuid", "name", "type", "options", "external_ids", "ofport",
                              "error"]),
            sel("Manager", ["_uuid", "target"]),
        ])
        self.root = res[0]["rows"][0]["_uuid"][1]
        self.manager_options = set(_uuids(res[0]["rows"][0]["manager_options"]))
        self.managers = {r["target"]: r["_uuid"][1] for r in res[4]["rows"]}   # target -> uuid
        self.bridges = {}
        for r in res[1]["rows"]:
            self.bridges[r["name"]] = {"uuid": r["_uuid"][1], "ports": _uuids(r["ports"]),
                                       "datapath_type": r["datapath_type"],
                                       "fail_mode": opt(r["fail_mode"]),
                                       "protocols": sorted(_uuids(r["protocols"]))}
        self.ifaces = {}
        for r in res[3]["rows"]:
            self.ifaces[r["_uuid"][1]] = {"uuid": r["_uuid"][1], "name": r["name"],
                                          "type": r["type"], "options": py(r["options"]),
                                          "external_ids": py(r["external_ids"]),
                                          "ofport": opt(r["ofport"]),
                                          "error": opt(r["error"])}
        self.ports = {}
        for r in res[2]["rows"]:
            ifs = _uuids(r["interfaces"])
            self.ports[r["_uuid"][1]] = {"uuid": r["_uuid"][1], "name": r["name"],
                                         "tag": opt(r["tag"]), "vlan_mode": opt(r["vlan_mode"]),
                                         "other_config": py(r["other_config"]),
                                         "iface": self.ifaces.get(ifs[0]) if ifs else None}
        self._ports_of: Dict[str, Dict[str, dict]] = {}

    def ports_of(self, bridge: str) -> Dict[str, dict]:
        """{port name: port} of a bridge as read ({} for a bridge that is not there); built
        once per bridge, as every verb on a port looks it up."""
        if bridge not in self._ports_of:
            b = self.bridges.get(bridge)
            self._ports_of[bridge] = {self.ports[u]["name"]: self.ports[u]
                                      for u in (b["ports"] if b else ()) if u in self.ports}
        return self._ports_of[bridge]


class Switch:
    """The changes of one pass over the switch ``snapshot`` shows; ``ops()`` is the
    transaction."""

    def __init__(self, snapshot: Snapshot):
        self.snap = snapshot
        self._ops: List[dict] = []
        self._updates: Dict[str, dict] = {}     # row uuid -> its queued update op
        self._new: Dict[str, list] = {}         # bridge name -> named-uuid ref (added here)
        self._add: Dict[str, list] = {}         # bridge name -> refs of ports added to it
        self._remove: Dict[str, list] = {}      # bridge name -> uuid refs of ports removed
        self._gone = set()                      # (bridge, port name) removed in this pass
        self._n = 0

    def _name(self) -> str:
        self._n += 1
        return "row%d" % self._n

    # -- reading through the pass ----------------------------------------------------------
    def has_bridge(self, name: str) -> bool:
        return name in self.snap.bridges or name in self._new

    def ports_of(self, bridge: str) -> Dict[str, dict]:
        """The bridge's ports as read at the start of the pass."""
        return self.snap.ports_of(bridge)

    def removing(self, bridge: str, port: str) -> bool:
        """True when this pass deletes the port ``port`` of ``bridge``."""
        return (bridge, port) in self._gone

    # -- verbs -----------------------------------------------------------------------------
    def add_bridge(self, name: str, datapath_type: str, may_exist: bool = True) -> bool:
        """A bridge in fail mode secure speaking OpenFlow 1.0 and 1.3, with its internal port.
        An existing bridge gets the mode, protocols and datapath type that differ. Returns True
        when the bridge is new."""
        b = self.snap.bridges.get(name)
        if b is not None and may_exist:
            self.set_bridge(name, fail_mode=SECURE, datapath_type=datapath_type,
                            protocols=sorted(set(b["protocols"]) | set(PROTOCOLS)))
            return False
        iu, pu, bu = self._name(), self._name(), self._name()
        self._ops += [
            {"op": "insert", "table": "Interface", "uuid-name": iu,
             "row": {"name": name, "type": "internal"}},
            {"op": "insert", "table": "Port", "uuid-name": pu,
             "row": {"name": name, "interfaces": named(iu)}},
            {"op": "insert", "table": "Bridge", "uuid-name": bu,
             "row": {"name": name, "ports": named(pu), "fail_mode": SECURE,
                     "datapath_type": datapath_type, "protocols": ["set", PROTOCOLS]}},
            {"op": "mutate", "table": "Open_vSwitch", "where": [],
             "mutations": [["bridges", "insert", ["set", [named(bu)]]]]},
        ]
        self._new[name] = named(bu)
        return True

    def add_manager(self, target: str) -> bool:
        """The OVSDB manager ``target`` (``ptcp:6640:127.0.0.1``) in the Open_vSwitch row's
        manager_options, next to any others there (``ovs-vsctl add Open_vSwitch .
        manager_options``, as Neutron's agent does it). Returns True when it had to be added."""
        row = self.snap.managers.get(target)
        if row is not None and row in self.snap.manager_options:
            return False
        if row is None:
            ref = named(self._name())
            self._ops.append({"op": "insert", "table": "Manager", "uuid-name": ref[1],
                              "row": {"target": target}})
        else:
            ref = uuid(row)
        self._ops.append({"op": "mutate", "table": "Open_vSwitch", "where": [],
                          "mutations": [["manager_options", "insert", ["set", [ref]]]]})
        return True

    def del_bridge(self, name: str, if_exists: bool = True) -> None:
        """Remove a bridge (its ports and interfaces go with it)."""
        b = self.snap.bridges.get(name)
        if b is None:
            if if_exists:
                return
            raise KeyError("no bridge %s" % name)
        self._ops.append({"op": "mutate", "table": "Open_vSwitch", "where": [],
                          "mutations": [["bridges", "delete", ["set", [uuid(b["uuid"])]]]]})

    def add_port(self, bridge: str, name: str, interface: Optional[dict] = None,
                 port: Optional[dict] = None, may_exist: bool = True) -> bool:
        """A port ``name`` with one interface of the same name on ``bridge`` (read in this pass
        or added by it): ``interface``/``port`` are their columns. Returns True when added;
        with ``may_exist`` a port the bridge already has is left as it is."""
        if may_exist and name in self.snap.ports_of(bridge):
            return False
        iu, pu = self._name(), self._name()
        irow = {c: _datum(c, v) for c, v in (interface or {}).items()}
        prow = {c: _datum(c, v) for c, v in (port or {}).items()}
        irow["name"] = prow["name"] = name
        prow["interfaces"] = named(iu)
        self._ops.append({"op": "insert", "table": "Interface", "uuid-name": iu, "row": irow})
        self._ops.append({"op": "insert", "table": "Port", "uuid-name": pu, "row": prow})
        self._add.setdefault(bridge, []).append(named(pu))
        return True

    def del_port(self, bridge: str, name: str, if_exists: bool = True) -> None:
        """Take the port ``name`` off ``bridge`` (OVSDB drops its rows); updates queued for it
        in this pass are dropped."""
        p = self.snap.ports_of(bridge).get(name)
        if p is None:
            if if_exists:
                return
            raise KeyError("no port %s on %s" % (name, bridge))
        for row in (p["uuid"], (p["iface"] or {}).get("uuid")):
            op = self._updates.pop(row, None)
            if op is not None:
                self._ops.remove(op)
        self._remove.setdefault(bridge, []).append(uuid(p["uuid"]))
        self._gone.add((bridge, name))

    def set_port(self, bridge: str, name: str, **columns: Any) -> bool:
        """Set the Port columns of ``bridge``'s port ``name`` that differ from what was read."""
        p = self.snap.ports_of(bridge)[name]
        return self._set("Port", p["uuid"], p, columns)

    def set_interface(self, bridge: str, name: str, **columns: Any) -> bool:
        """Set the columns of the interface of ``bridge``'s port ``name`` that differ."""
        i = self.snap.ports_of(bridge)[name]["iface"]
        return self._set("Interface", i["uuid"], i, columns)

    def set_bridge(self, name: str, **columns: Any) -> bool:
        b = self.snap.bridges[name]
        return self._set("Bridge", b["uuid"], b, columns)

    def _set(self, table: str, row_uuid: str, have: dict, columns: dict) -> bool:
        row = {c: _datum(c, v) for c, v in columns.items() if have.get(c) != v}
        if not row:
            return False
        op = self._updates.get(row_uuid)
        if op is None:
            op = {"op": "update", "table": table, "where": [["_uuid", "==", uuid(row_uuid)]],
                  "row": {}}
            self._updates[row_uuid] = op
            self._ops.append(op)
        op["row"].update(row)
        return True

    # -- the transaction -------------------------------------------------------------------
    def _ref(self, bridge: str) -> list:
        if bridge in self._new:
            return self._new[bridge]
        return uuid(self.snap.bridges[bridge]["uuid"])

    def ops(self) -> List[dict]:
        """The pass's operations, bridge port lists mutated last (one mutate per bridge)."""
        ops = list(self._ops)
        for bridge in sorted(set(self._add) | set(self._remove)):
            muts = []
            if self._remove.get(bridge):
                muts.append(["ports", "delete", ["set", self._remove[bridge]]])
            if self._add.get(bridge):
                muts.append(["ports", "insert", ["set", self._add[bridge]]])
            ops.append({"op": "mutate", "table": "Bridge",
                        "where": [["_uuid", "==", self._ref(bridge)]], "mutations": muts})
        return ops
