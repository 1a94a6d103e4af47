"""The Linux bridge driver of the agent: ``brq<net>`` bridges, ``vxlan-<VNI>`` devices with L2
population as static FDB/neighbour entries, VM taps and trunk subport VLAN devices, all over
netlink (pyroute2) in the host's namespace."""
