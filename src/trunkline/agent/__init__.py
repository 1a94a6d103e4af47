"""The trunkline host agent: makes one host's switch and DHCP look like the server's desired
state (docs/agent-channel.md). Modules: main (the loop), driver (the switch driver contract and
factory), ovs (the Open vSwitch driver: daemon + wiring), ovsdb (raw RFC 7047 client), netns
(namespaces and `ip -batch`), dhcp (qdhcp namespaces + dnsmasq), client (the HTTP channel)."""
