"""The Linux bridge driver of the agent. Registers as Neutron's
"Linux bridge agent"; one netlink snapshot and only the differing writes per pass (``Wiring``);
woken by a netlink link monitor when a tap appears or vanishes (a VM plugged or gone)."""
import logging
import socket

from trunkline import constants as c
from trunkline import names
from trunkline.agent.driver import Driver
from trunkline.agent.linuxbridge import rtnl
from trunkline.agent.linuxbridge.netlink import Netlink
from trunkline.agent.linuxbridge.uplinks import DEFAULT_VXLAN_GROUP, VXLAN_PORT
from trunkline.agent.linuxbridge.wiring import Wiring

LOG = logging.getLogger(__name__)


class LinuxBridgeDriver(Driver):
    agent_type = c.AGENT_LINUXBRIDGE
    binary = c.BINARY_LINUXBRIDGE

    def __init__(self, netns=None, tunnel_ip=None, physnet_mappings=None, arp_responder=False,
                 l2_population=True, vxlan_group=DEFAULT_VXLAN_GROUP, vxlan_port=VXLAN_PORT):
        self.netns = netns
        self.tunnel_ip = tunnel_ip
        self.interface_mappings = dict(physnet_mappings or {})
        self.netlink = Netlink(netns)
        self.arp_responder = arp_responder and l2_population
        self.l2_population = l2_population
        self.vxlan_group = None if l2_population else vxlan_group
        self.wiring = Wiring(self.netlink, tunnel_ip, self.interface_mappings,
                             self.arp_responder, vxlan_group=self.vxlan_group,
                             vxlan_port=vxlan_port)

    def configurations(self):
        return {"netns": self.netns, "tunnel_ip": self.tunnel_ip,
                "tunnel_types": ["vxlan"] if self.tunnel_ip else [],
                "l2_population": self.l2_population,
                "arp_responder_enabled": self.arp_responder,
                "vxlan_group": self.vxlan_group,
                "interface_mappings": self.interface_mappings,
                "bridge_mappings": {}}

    def reconcile(self, state, plugs):
        return self.wiring.reconcile(state, plugs)

    def timing(self):
        lt = self.wiring.last_timing
        return "%s netlink writes in %.3f s" % (lt.get("writes"), lt.get("pass", 0))

    def reset(self):
        self.netlink.close()

    def watchers(self):
        return [self._watch_links]

    def _watch_links(self, wake, stopping):
        """A tap appeared or vanished. Set changes of known devices (ours: master, up) do not
        wake: the pass that made them knows."""
        while not stopping.is_set():
            try:
                with rtnl.open_socket(self.netns) as events, \
                        rtnl.open_socket(self.netns) as dumps:
                    events.bind((0, rtnl.RTMGRP_LINK))
                    events.settimeout(0.5)
                    known = {l["index"] for l in rtnl.dump(dumps)}
                    wake.set()      # anything missed while not watching
                    while not stopping.is_set():
                        try:
                            batch = rtnl.changes(events)
                        except socket.timeout:
                            continue
                        for event, link in batch:
                            if event == "del":
                                known.discard(link["index"])
                            elif link["index"] not in known:
                                known.add(link["index"])
                            else:
                                continue
                            if (link["name"] or "").startswith(names.TAP_PREFIX):
                                wake.set()
            except Exception as e:
                LOG.warning("link monitor failed (%s); restarting", e)
                stopping.wait(1.0)
