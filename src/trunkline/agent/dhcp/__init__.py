"""DHCP side of the agent: per network a `qdhcp-<net id>` namespace, a veth tap/ns- pair and a
dnsmasq started with Neutron's command line (`files` writes its host/addn_hosts/opts files)."""
from trunkline.agent.dhcp.manager import DhcpManager  # noqa: F401
