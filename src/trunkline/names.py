"""Every device and namespace name trunkline uses, derived from ids as Neutron, Nova and os-vif
derive them (never from user text). A leaf module (standard library only), shared by the
server, the agent and the lab, so a name is made in exactly one place.

Linux limits interface names to 15 characters; Neutron cuts ``prefix + id`` to 14."""

IFNAMSIZ = 15           # the kernel's limit, without the NUL
DEVICE_NAME_LEN = 14    # Neutron's and os-vif's names: prefix + id, cut to 14 characters

DHCP_NS_PREFIX = "qdhcp-"
DHCP_NS_DEVICE_PREFIX = "ns-"
TRUNK_BRIDGE_PREFIX = "tbr-"
BRIDGE_PREFIX = "brq"
TAP_PREFIX = "tap"
TUNTAP_MODE = "tap"     # not a name: the tun/tap kind of a guest NIC (`ip tuntap … mode tap`)
VXLAN_PREFIX = "vxlan-"
# patch ports the OVS agent makes for trunks: on br-int (tpi-/spi-) and on the trunk bridge
# (tpt-/spt-), for the parent (t) and for each subport (s)
TRUNK_INT_PATCH = "tpi-"
TRUNK_TBR_PATCH = "tpt-"
SUBPORT_INT_PATCH = "spi-"
SUBPORT_TBR_PATCH = "spt-"
TRUNK_PATCH_PREFIXES = (TRUNK_INT_PATCH, TRUNK_TBR_PATCH, SUBPORT_INT_PATCH, SUBPORT_TBR_PATCH)
TUNNEL_BRIDGE = "br-tun"
PATCH_INT, PATCH_TUN = "patch-int", "patch-tun"     # br-tun's / br-int's end of their patch


def _cut(prefix: str, ident: str, size: int = DEVICE_NAME_LEN) -> str:
    return (prefix + ident)[:size]


def tap(port_id: str) -> str:
    """A VM's or DHCP port's device: ``tap`` + port id[:11] (Nova's and os-vif's
    ``gen_port_name``); also a Linux bridge subport's VLAN device."""
    return _cut(TAP_PREFIX, port_id)


def dhcp_ns_device(port_id: str) -> str:
    """The DHCP port's end inside its ``qdhcp-`` namespace: ``ns-`` + port id[:11]."""
    return _cut(DHCP_NS_DEVICE_PREFIX, port_id)


def dhcp_namespace(network_id: str, suffix: str = "") -> str:
    """``qdhcp-<network id>``; several DHCP agents on one kernel add a suffix of their own."""
    return DHCP_NS_PREFIX + network_id + suffix


def trunk_bridge(trunk_id: str) -> str:
    """The trunk bridge os-vif makes for a trunk parent: ``tbr-`` + trunk id[:10]."""
    return _cut(TRUNK_BRIDGE_PREFIX, trunk_id)


def trunk_patch(prefix: str, port_id: str) -> str:
    """A trunk patch port, ``tpi-``/``tpt-``/``spi-``/``spt-`` + port id[:11]."""
    return _cut(prefix, port_id, IFNAMSIZ)


def network_bridge(network_id: str) -> str:
    """The Linux bridge of a network: ``brq`` + network id[:11]."""
    return _cut(BRIDGE_PREFIX, network_id)


def vxlan_device(vni: int) -> str:
    """The Linux bridge agent's VXLAN device of a network: ``vxlan-<VNI>``."""
    return "%s%d" % (VXLAN_PREFIX, vni)


def tunnel_port(tunnel_type: str, remote_ip: str) -> str:
    """The OVS agent's br-tun port towards a remote VTEP: type + '-' + its IPv4 in hex."""
    return "%s-%s" % (tunnel_type, "".join("%02x" % int(o) for o in remote_ip.split(".")))


def provider_bridge(interface: str) -> str:
    """The OVS provider bridge holding a mapped interface: ``br-`` + interface."""
    return "br-" + interface


def provider_patches(bridge: str) -> tuple:
    """The patch pair between br-int and a provider bridge: (``int-<bridge>`` on br-int,
    ``phy-<bridge>`` on the provider bridge)."""
    return _cut("int-", bridge, IFNAMSIZ), _cut("phy-", bridge, IFNAMSIZ)


def vlan_subinterface(interface: str, vid: int) -> str:
    """``<interface>.<vid>``, the interface part cut so the name fits the kernel's limit."""
    suffix = ".%d" % vid
    return interface[:IFNAMSIZ - len(suffix)] + suffix
