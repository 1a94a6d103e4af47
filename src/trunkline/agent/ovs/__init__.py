"""Open vSwitch side of the agent: ``driver`` (the agent's contract), ``wiring`` (one pass:
``switch`` read and written in one transaction, ``planner`` parts: ``trunks``, ``integration``,
``tunnels``, ``provider``; ``flows`` their flows), ``daemon`` (private OVS instances)."""
from trunkline.agent.ovs.wiring import Wiring  # noqa: F401
