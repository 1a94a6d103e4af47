"""Server-side settings that shape resources (what Neutron keeps in ml2_conf.ini)."""
from dataclasses import dataclass, field


@dataclass
class PluginConfig:
    tenant_network_type: str = "vxlan"
    vni_ranges: tuple = ((1, 65535),)
    gre_ranges: tuple = ((1, 65535),)
    # physical network -> VLAN ranges for tenant allocation (empty: provider use only)
    network_vlan_ranges: dict = field(default_factory=lambda: {"physnet1": ()})
    flat_networks: tuple = ("*",)
    global_physnet_mtu: int = 1500
    max_dns_nameservers: int = 5
    max_subnet_host_routes: int = 20
    max_fixed_ips_per_port: int = 5
    base_mac: str = "fa:16:3e:00:00:00"
    # quota resource -> default limit, where it differs from Neutron's (plugins/quotas.py)
    quotas: dict = field(default_factory=dict)
