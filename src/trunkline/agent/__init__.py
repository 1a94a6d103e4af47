"""The trunkline host agent: makes one host's switch and DHCP look like the server's desired
state (docs/agent-channel.md). Modules: main (the loop), driver (the switch driver contract and
factory), ovs (the Open vSwitch driver: daemon, wiring, tunnels, provider bridges, flows),
linuxbridge (the Linux bridge driver over netlink), noop (control plane only), ovsdb (raw RFC 7047
client), netns (namespaces and `ip -batch`), vlan (802.1Q devices: 8021q or the tc/BPF
equivalent, for trunk subports and the lab's guests), dhcp (qdhcp namespaces + dnsmasq), client
(the HTTP channel)."""
