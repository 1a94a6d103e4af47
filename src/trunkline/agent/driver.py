"""The switch driver contract the agent loop talks to (``Driver``, subclassed by the ovs,
linuxbridge and noop drivers; agent/drivers.py picks one by name).

A driver makes one host's switch match the desired state (``channel/state.py``) and says what it
achieved; the loop (``agent/main.py``) fetches state, runs DHCP, calls the driver and reports.
"""
import abc
from typing import Callable, Dict, Iterable, List, Optional


class Driver(abc.ABC):
    """One host's switch, as the agent loop sees it."""

    agent_type: str                     # how it registers (``/v2.0/agents``), constants.AGENT_*
    binary: str
    netns: Optional[str] = None         # the namespace its devices live in (None: this one)
    datapath_type: Optional[str] = None  # an OVS datapath type, for the DHCP taps it plugs

    @abc.abstractmethod
    def configurations(self) -> Dict[str, object]:
        """The agent's ``configurations`` (reported with every heartbeat)."""

    @abc.abstractmethod
    def reconcile(self, state: dict, plugs: Iterable[dict]) -> Dict[str, Dict[str, str]]:
        """One pass: apply the difference, return {"ports": {id: status}, "trunks": {id:
        status}}. ``plugs`` are the agent's own taps to attach, e.g. DHCP: [{"name",
        "iface_id", "mac", "network_id"}]."""

    def timing(self) -> str:
        """A short text on how the last pass went (logged)."""
        return ""

    def watchers(self) -> List[Callable]:
        """Callables ``f(wake, stopping)`` run in threads: they set ``wake`` when the switch
        changed under the agent (a VM plugged, a restart)."""
        return []

    def reset(self) -> None:
        """Drop connections after a failed pass (the next pass reconnects)."""
