"""The agent's switch drivers by name, and the factory that builds one from the command line's
options (each driver module is imported only when chosen)."""
import inspect

DRIVERS = ("ovs", "linuxbridge", "noop")


def load(name: str, **options):
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
