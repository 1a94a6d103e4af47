"""dnsmasq configuration files in Neutron's formats (neutron/agent/linux/dhcp.py), written
atomically (temp file + rename) and only when their content changes.

Ports' extra DHCP options are user text: the API refuses line breaks, but every option is
checked again here (agent/dhcp/options.py) and one that cannot be written safely is left
out and logged, so no value can add a line, break a line, or end up in another port's."""
import ipaddress
import os

from trunkline.agent.dhcp import options

DOMAIN = "openstacklocal"
# device owners that never get a host entry (Neutron's DHCP_CONFIG_NOT_REQUIRED_OWNERS, short)
NO_CONFIG_OWNERS = ("network:router_gateway", "network:floatingip", "network:router_ha_interface")


def hostname(ip):
    return "host-" + ip.replace(".", "-").replace(":", "-")


def dhcp_subnets(subnets):
    return [s for s in subnets if s.get("enable_dhcp", True)]


def _addresses(ports, subnets):
    """(port, ip) for every fixed IP on a DHCP-enabled subnet of a port dnsmasq must know."""
    ids = {s["id"] for s in dhcp_subnets(subnets)}
    for p in sorted(ports, key=lambda p: p["id"]):
        if p.get("device_owner") in NO_CONFIG_OWNERS:
            continue
        for f in p.get("fixed_ips") or []:
            if f.get("subnet_id") in ids:
                yield p, f["ip_address"]


def host_lines(ports, subnets):
    """`host` file: `<mac>,<fqdn>,<ip>` per fixed IP on a DHCP-enabled subnet (IPv6 in []),
    as Neutron writes it for a port with extra DHCP options: `<mac>[,id:<client-id>],<fqdn>,
    <ip>,set:port-<id>` (no tag when the client-id is its only option)."""
    out = []
    for p, ip in _addresses(ports, subnets):
        fields = [p["mac_address"]]
        opts = p.get("extra_dhcp_opts") or []
        client_id = options.client_id(p["id"], opts)
        if client_id:
            fields.append("id:" + client_id)
        fields += ["%s.%s" % (hostname(ip), DOMAIN), "[%s]" % ip if ":" in ip else ip]
        if opts and not (client_id and len(opts) == 1):
            fields.append("set:" + options.port_tag(p["id"]))
        out.append(",".join(fields))
    return out


def addn_hosts_lines(ports, subnets):
    """`addn_hosts` file: `<ip>\t<fqdn> <hostname>` (fqdn first, for PTR answers)."""
    return ["%s\t%s.%s %s" % (ip, hostname(ip), DOMAIN, hostname(ip))
            for _, ip in _addresses(ports, subnets)]


def opts_lines(subnets, ports=(), known=None):
    """`opts` file: each IPv4 subnet's DNS servers, routes and router, then the ports' extra
    DHCP options (options.port_lines; ``known``: the option names dnsmasq knows)."""
    out = []
    for s in dhcp_subnets(subnets):
        if s.get("ip_version", 4) != 4:
            continue
        tag = "tag:subnet-%s" % s["id"]
        if s.get("dns_nameservers"):
            out.append("%s,option:dns-server,%s" % (tag, ",".join(s["dns_nameservers"])))
        routes = [(r["destination"], r["nexthop"]) for r in s.get("host_routes") or []]
        if routes:
            if s.get("gateway_ip"):
                routes.append(("0.0.0.0/0", s["gateway_ip"]))
            val = ",".join("%s,%s" % r for r in routes)
            out.append("%s,option:classless-static-route,%s" % (tag, val))
            out.append("%s,249,%s" % (tag, val))
        if s.get("gateway_ip"):
            out.append("%s,option:router,%s" % (tag, s["gateway_ip"]))
        else:
            out.append("%s,option:router" % tag)
    for p in sorted(ports, key=lambda p: p["id"]):
        if p.get("extra_dhcp_opts") and p.get("device_owner") not in NO_CONFIG_OWNERS:
            out += options.port_lines(p, known)
    return out


def lease_lines(ports, subnets):
    """`leases` at first spawn: `0 <mac> <ip> * *` per IPv4 allocation (0 = infinite; avoids
    NAKs for clients that kept their lease across a reschedule or restart)."""
    ids = {s["id"] for s in dhcp_subnets(subnets) if s.get("ip_version", 4) == 4}
    return ["0 %s %s * *" % (p["mac_address"], f["ip_address"])
            for p in sorted(ports, key=lambda p: p["id"]) for f in p.get("fixed_ips") or []
            if f.get("subnet_id") in ids and p.get("device_owner") not in NO_CONFIG_OWNERS]


def dhcp_ranges(subnets, lease="86400s"):
    """--dhcp-range values: `set:subnet-<id>,<net addr>,static,<netmask|prefixlen>,<lease>`."""
    out = []
    for s in dhcp_subnets(subnets):
        net = ipaddress.ip_network(s["cidr"], strict=False)
        if net.version == 4:
            out.append("set:subnet-%s,%s,static,%s,%s" % (s["id"], net.network_address,
                                                          net.netmask, lease))
        elif s.get("ipv6_address_mode") in ("dhcpv6-stateful", "dhcpv6-stateless", None) \
                and net.prefixlen >= 64:
            out.append("set:subnet-%s,%s,static,%d,%s" % (s["id"], net.network_address,
                                                          net.prefixlen, lease))
    return out


def lease_max(subnets):
    total = sum(ipaddress.ip_network(s["cidr"], strict=False).num_addresses
                for s in dhcp_subnets(subnets))
    return max(1, min(total, 2 ** 24))


def write_if_changed(path, lines):
    """Atomic replace; returns True when the content changed."""
    text = "".join(l + "\n" for l in lines)
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True
