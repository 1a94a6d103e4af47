"""The lab's ``--plug os-vif``: the real os-vif library plugs and unplugs a lab VM's port as Nova's
libvirt driver calls it — a ``VIFOpenVSwitch`` from the port's binding (bridge, datapath type,
``create_port``: os-vif makes the OVS port, the hypervisor the device), over os-vif's OVSDB
connection. Run as ``python -m trunkline.lab.osvif plug|unplug VIF-JSON`` inside the switch's
network namespace, because os-vif's import and initialisation (oslo, privsep) are not the lab's
to pay for when it plugs by itself."""
import json
import sys

INSTANCE_NAME = "trunkline-lab"


def connection(agent_conf: dict, ovsdb: str) -> str:
    """os-vif's ``ovsdb_connection`` for an agent: the manager it keeps (``ptcp:PORT:IP`` is
    reached as ``tcp:IP:PORT``, os-vif's default), else the switch's own socket."""
    manager = agent_conf.get("ovsdb_manager") or ""
    kind, _, rest = manager.partition(":")
    if kind == "ptcp" and rest:
        port, _, ip = rest.partition(":")
        return "tcp:%s:%s" % (ip or "127.0.0.1", port)
    return ovsdb


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    op, vif = argv[0], json.loads(argv[1])
    import os_vif
    from os_vif.objects import instance_info, network, vif as osv
    from oslo_config import cfg
    from vif_plug_ovs import privsep

    os_vif.initialize()
    cfg.CONF.set_override("ovsdb_connection", vif["ovsdb_connection"], group="os_vif_ovs")
    privsep.vif_plug.set_client_mode(False)     # the lab runs as root: no privsep daemon
    obj = osv.VIFOpenVSwitch(
        id=vif["port_id"], address=vif["mac"], vif_name=vif["tap"],
        bridge_name=vif["bridge"], plugin="ovs", has_traffic_filtering=True,
        preserve_on_delete=False,
        network=network.Network(id=vif["network_id"], bridge=vif["bridge"], mtu=vif["mtu"]),
        port_profile=osv.VIFPortProfileOpenVSwitch(
            interface_id=vif["port_id"], datapath_type=vif["datapath_type"],
            create_port=True))
    inst = instance_info.InstanceInfo(uuid=vif["vm_uuid"], name=INSTANCE_NAME)
    (os_vif.plug if op == "plug" else os_vif.unplug)(obj, inst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
