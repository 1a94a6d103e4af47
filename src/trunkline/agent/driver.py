"""The switch driver contract the agent loop talks to, and the factory that picks one by name.

A driver makes one host's switch match the desired state (``channel/state.py``) and says what it
achieved; the loop (``agent/main.py``) fetches state, runs DHCP, calls the driver and reports.

    agent_type, binary      how the driver registers (``/v2.0/agents``), e.g. "Open vSwitch agent"
    configurations()        the agent's ``configurations`` dict (reported with every heartbeat)
    reconcile(state, plugs) one pass: apply the difference, return
                            {"ports": {id: status}, "trunks": {id: status}}; ``plugs`` are the
                            agent's own taps to attach, e.g. DHCP: [{"name", "iface_id", "mac",
                            "network_id"}]
    timing()                a short text on how the last pass went (logged)
    watchers()              callables ``f(wake, stopping)`` run in threads: they set ``wake``
                            when the switch changed under the agent (a VM plugged, a restart)
    reset()                 drop connections after a failed pass (the next pass reconnects)
"""
import inspect

DRIVERS = ("ovs", "linuxbridge", "noop")


def load(name, **options):
    """The driver ``name`` built from the agent's options (``ovsdb_target``, ``ovs_rundir``,
    ``integration_bridge``, ``datapath_type``, ``netns``, ``tunnel_ip``, ``tunnel_types``,
    ``physnet_mappings``); each driver takes the ones it knows (one command line serves all)."""
    if name == "ovs":
        from trunkline.agent.ovs.driver import OvsDriver as cls
    elif name == "linuxbridge":
        from trunkline.agent.linuxbridge.driver import LinuxBridgeDriver as cls
    elif name == "noop":
        from trunkline.agent.noop import NoopDriver as cls
    else:
        raise ValueError("unknown agent driver %r (choose from %s)" % (name, ", ".join(DRIVERS)))
    known = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in options.items() if k in known})
