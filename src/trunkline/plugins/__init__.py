"""The core plugins: networks, subnets, ports, IPAM, segment allocation; built together here."""
from dataclasses import dataclass

from trunkline.plugins.config import PluginConfig
from trunkline.plugins.networks import NetworkPlugin
from trunkline.plugins.ports import PortPlugin
from trunkline.plugins.subnets import SubnetPlugin


@dataclass
class Core:
    cfg: PluginConfig
    networks: NetworkPlugin
    subnets: SubnetPlugin
    ports: PortPlugin


def build(cfg=None, binder=None):
    """The core plugins; ``binder`` binds ports (the agent channel's, or PortPlugin's default
    that binds nothing)."""
    cfg = cfg or PluginConfig()
    networks = NetworkPlugin(cfg)
    return Core(cfg, networks, SubnetPlugin(cfg, networks), PortPlugin(cfg, networks, binder))
