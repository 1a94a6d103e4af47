"""The trunkline host agent: makes one host's Open vSwitch and DHCP look like the server's
desired state (docs/agent-channel.md). Modules: ovsdb (raw RFC 7047 client), netns (namespaces
and `ip -batch`), ovs (daemon + wiring), dhcp (qdhcp namespaces + dnsmasq), client (the HTTP
channel), main (the loop)."""
