"""trunkline: a Neutron-compatible network service built around VLAN-aware VMs (trunk ports)."""
