"""The vocabulary the server, the agent and the lab share: statuses, agent types, VIF types and
device owners, each with what it means. A leaf module (standard library only): the agent and
the lab import it without pulling in any server code."""
import os

# -- where every command keeps its state unless told otherwise (--state-dir)
ENV_STATE_DIR = "TRUNKLINE_STATE_DIR"
STATE_DIR = os.environ.get(ENV_STATE_DIR) or "/var/lib/trunkline"

# -- resource statuses (Neutron's words)
ACTIVE = "ACTIVE"       # wired and working (a port: its host's agent put it on the switch)
DOWN = "DOWN"           # not wired (yet), admin down, or its host's agent is dead
BUILD = "BUILD"         # an agent is wiring it
ERROR = "ERROR"         # an agent could not wire it
DEGRADED = "DEGRADED"   # a trunk whose parent is wired but not every subport
INACTIVE = "INACTIVE"   # a port binding on a host other than the port's own (binding-extended)

PORT_STATUSES = (ACTIVE, DOWN, BUILD)                     # what an agent may report for a port
TRUNK_STATUSES = (BUILD, ACTIVE, DEGRADED, ERROR)         # ... for a trunk (DOWN is the server's)

# -- agents (agent_type, binary and topic as Neutron's own agents register them)
AGENT_OVS = "Open vSwitch agent"
AGENT_LINUXBRIDGE = "Linux bridge agent"
AGENT_DHCP = "DHCP agent"
L2_AGENT_TYPES = (AGENT_OVS, AGENT_LINUXBRIDGE)           # in ML2's order: Open vSwitch first
BINARY_OVS = "trunkline-agent"
BINARY_LINUXBRIDGE = "trunkline-linuxbridge-agent"
BINARY_DHCP = "trunkline-dhcp"
AGENT_TOPICS = {AGENT_OVS: "N/A", AGENT_LINUXBRIDGE: "N/A", AGENT_DHCP: "dhcp_agent"}

# -- port binding: binding:vif_type
VIF_TYPE_OVS = "ovs"                        # plugged into br-int, or a trunk parent's tbr-
VIF_TYPE_BRIDGE = "bridge"                  # a tap the Linux bridge agent puts into brq<net>
VIF_TYPE_UNBOUND = "unbound"                # no binding:host_id
VIF_TYPE_BINDING_FAILED = "binding_failed"  # a host without a live L2 agent
VIF_TYPES_OF_AGENTS = {AGENT_OVS: VIF_TYPE_OVS, AGENT_LINUXBRIDGE: VIF_TYPE_BRIDGE}
VNIC_NORMAL = "normal"

# -- device_owner
OWNER_NETWORK_PREFIX = "network:"           # owned by the service itself (not a tenant's device)
OWNER_DHCP = "network:dhcp"                 # a DHCP agent's port
OWNER_TRUNK_SUBPORT = "trunk:subport"       # a port while it is a subport of a trunk
OWNER_COMPUTE_PREFIX = "compute:"           # a Nova instance's port ("compute:<zone>")
OWNER_COMPUTE = "compute:nova"              # what Nova (and the lab) set in the default zone

# -- agents' integration bridge and the local VLAN a port gets when it must carry nothing
INTEGRATION_BRIDGE = "br-int"
DEAD_VLAN = 4095


def is_network_owned(device_owner: str) -> bool:
    """A port the service made for itself (DHCP, router): it never blocks deleting its network."""
    return device_owner.startswith(OWNER_NETWORK_PREFIX)
