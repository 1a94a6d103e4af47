"""Open vSwitch side of the agent: `daemon` starts private OVS instances, `wiring` reconciles
br-int, local VLANs, VIF tags and trunk patch ports with the desired state."""
from trunkline.agent.ovs.wiring import Wiring, reconcile  # noqa: F401
