"""L2 population, server side, over the agent channel (no dataplane): the ``tunnels`` section
of a host's desired state (remote VTEPs of live tunnelling agents, their ACTIVE admin-up ports),
and which hosts' watches a port change wakes."""
import concurrent.futures
import os
import subprocess
import sys
import uuid

import pytest

from helpers.channel import Channel, get_port, set_heartbeat

OVS, LB = "Open vSwitch agent", "Linux bridge agent"


@pytest.fixture(scope="module")
def chan(server):
    return Channel(server.url)


@pytest.fixture
def hosts(chan):
    """Three hosts: h1 (OVS, 192.0.2.1, vxlan and gre), h2 (Linux bridge, 192.0.2.2, vxlan),
    h3 (OVS, no tunnel)."""
    tag = uuid.uuid4().hex[:6]
    names = ["l2h1-" + tag, "l2h2-" + tag, "l2h3-" + tag]
    agents = [chan.register(names[0], OVS, tunnel_ip="192.0.2.1",
                            tunnel_types=["vxlan", "gre"], l2_population=True),
              chan.register(names[1], LB, tunnel_ip="192.0.2.2", tunnel_types=["vxlan"],
                            l2_population=True),
              chan.register(names[2], OVS, tunnel_ip=None, tunnel_types=[])]
    return names, agents


def vxlan_net(client, name, cidr, ntype="vxlan"):
    net = client.create("network", name=name, **{"provider:network_type": ntype})
    client.create("subnet", network_id=net["id"], cidr=cidr, ip_version=4)
    return net


def bound(client, net, host, **attrs):
    return client.create("port", network_id=net["id"], device_owner="compute:nova",
                         device_id=str(uuid.uuid4()), **{"binding:host_id": host}, **attrs)


def entry(port):
    return {"mac_address": port["mac_address"],
            "ip_address": port["fixed_ips"][0]["ip_address"] if port["fixed_ips"] else None}


def watch_now(chan, host, since):
    """The watch's answer at once (timeout 0): the newest revision after ``since`` that
    concerns ``host``, or ``since``."""
    status, body = chan.get("/watch", since=since, host=host, timeout=0)
    assert status == 200, body
    return body["revision"]


def test_tunnels_section_lists_remote_vteps_and_active_ports(client, chan, hosts):
    (h1, h2, h3), _ = hosts
    net = vxlan_net(client, "l2pop-a", "10.61.0.0/24")
    p1 = bound(client, net, h1)
    p2 = bound(client, net, h2)
    p2b = bound(client, net, h2, fixed_ips=[])         # no IP: ip_address null
    p3 = bound(client, net, h3)                        # h3 has no tunnel_ip: never a VTEP
    seg = client.get("/networks/" + net["id"])[1]["network"]["provider:segmentation_id"]

    # nothing ACTIVE yet: h2 is a VTEP with an empty list (the flood entry), h1 too for h2
    t1 = chan.state(h1)["tunnels"]
    assert t1 == {net["id"]: {"network_type": "vxlan", "segmentation_id": seg,
                              "vteps": {"192.0.2.2": []}}}
    assert chan.state(h2)["tunnels"][net["id"]]["vteps"] == {"192.0.2.1": []}

    assert chan.report(h2, {p2["id"]: "ACTIVE", p2b["id"]: "ACTIVE"})[0] == 204
    assert chan.report(h3, {p3["id"]: "ACTIVE"})[0] == 204
    vteps = chan.state(h1)["tunnels"][net["id"]]["vteps"]
    assert list(vteps) == ["192.0.2.2"]
    assert sorted(vteps["192.0.2.2"], key=lambda e: e["mac_address"]) == sorted(
        [entry(p2), {"mac_address": p2b["mac_address"], "ip_address": None}],
        key=lambda e: e["mac_address"])
    # h3 has no VTEP but sees both tunnelling hosts
    assert chan.state(h3)["tunnels"][net["id"]]["vteps"] == {
        "192.0.2.1": [], "192.0.2.2": chan.state(h1)["tunnels"][net["id"]]["vteps"]["192.0.2.2"]}
    # a host without a port on the network has no entry for it
    assert net["id"] not in chan.state("l2-nobody-" + uuid.uuid4().hex[:6])["tunnels"]


def test_port_down_admin_down_deleted_or_moved_disappears(client, chan, hosts):
    (h1, h2, _), _ = hosts
    net = vxlan_net(client, "l2pop-b", "10.62.0.0/24")
    bound(client, net, h1)
    ports = [bound(client, net, h2) for _ in range(4)]
    chan.report(h2, {p["id"]: "ACTIVE" for p in ports})

    def macs():
        t = chan.state(h1)["tunnels"][net["id"]]
        return sorted(e["mac_address"] for e in t["vteps"].get("192.0.2.2", []))

    assert macs() == sorted(p["mac_address"] for p in ports)
    chan.report(h2, {ports[0]["id"]: "DOWN"})
    client.put("/ports/" + ports[1]["id"], {"port": {"admin_state_up": False}})
    assert client.delete("/ports/" + ports[2]["id"])[0] == 204
    status, _ = client.put("/ports/" + ports[3]["id"], {"port": {"binding:host_id": h1}})
    assert status == 200 and get_port(client, ports[3]["id"])["status"] == "DOWN"
    assert macs() == []
    # h2 still has ports there: its flood entry stays
    assert chan.state(h1)["tunnels"][net["id"]]["vteps"] == {"192.0.2.2": []}
    # the moved port, ACTIVE on h1, is now what h2 learns about h1
    chan.report(h1, {ports[3]["id"]: "ACTIVE"})
    assert chan.state(h2)["tunnels"][net["id"]]["vteps"] == {"192.0.2.1": [entry(ports[3])]}


def test_dead_agent_host_disappears(client, chan, server, hosts):
    (h1, h2, _), agents = hosts
    net = vxlan_net(client, "l2pop-c", "10.63.0.0/24")
    bound(client, net, h1)
    p2 = bound(client, net, h2)
    chan.report(h2, {p2["id"]: "ACTIVE"})
    assert chan.state(h1)["tunnels"][net["id"]]["vteps"] == {"192.0.2.2": [entry(p2)]}
    set_heartbeat(server, agents[1]["id"], "2001-01-01 00:00:00")
    assert chan.state(h1)["tunnels"][net["id"]]["vteps"] == {}
    # it comes back: h1's watch wakes and the VTEP is there again
    since = chan.state(h1)["revision"]
    chan.register(h2, LB, tunnel_ip="192.0.2.2", tunnel_types=["vxlan"], l2_population=True)
    assert watch_now(chan, h1, since) > since
    assert chan.state(h1)["tunnels"][net["id"]]["vteps"] == {"192.0.2.2": [entry(p2)]}


def test_hosts_asking_at_one_revision_each_see_the_others(client, chan, hosts):
    """The hosts one change wakes ask at the same revision and share one computation of the
    network's entries (l2pop.NetworkViews): each still sees the others and not itself, and the
    next revision's answers are computed afresh."""
    (h1, h2, _), _ = hosts
    net = vxlan_net(client, "l2pop-s", "10.67.0.0/24")
    p1, p2 = bound(client, net, h1), bound(client, net, h2)
    chan.report(h1, {p1["id"]: "ACTIVE"})
    chan.report(h2, {p2["id"]: "ACTIVE"})

    def states():
        for _ in range(10):     # (a background write, e.g. the agent check, may intervene)
            s1, s2 = chan.state(h1), chan.state(h2)
            if s1["revision"] == s2["revision"]:
                return s1, s2
        raise AssertionError("no two states at one revision")
    s1, s2 = states()
    assert s1["tunnels"][net["id"]]["vteps"] == {"192.0.2.2": [entry(p2)]}
    assert s2["tunnels"][net["id"]]["vteps"] == {"192.0.2.1": [entry(p1)]}
    p3 = bound(client, net, h2)
    chan.report(h2, {p3["id"]: "ACTIVE"})
    s1b, s2b = states()
    assert s1b["revision"] > s1["revision"]
    assert s1b["tunnels"][net["id"]]["vteps"] == {"192.0.2.2": sorted(
        [entry(p2), entry(p3)], key=lambda e: e["mac_address"])}
    assert s2b["tunnels"][net["id"]]["vteps"] == {"192.0.2.1": [entry(p1)]}


def test_watch_wakes_hosts_sharing_the_network_only(client, chan, hosts):
    (h1, h2, h3), _ = hosts
    shared = vxlan_net(client, "l2pop-d", "10.64.0.0/24")
    other = vxlan_net(client, "l2pop-e", "10.65.0.0/24")
    bound(client, shared, h1)
    bound(client, other, h3)
    since = chan.state(h1)["revision"]
    # h2 and h3 work on "other": h1 must not wake
    p = bound(client, other, h2)
    chan.report(h2, {p["id"]: "ACTIVE"})
    client.put("/ports/" + p["id"], {"port": {"admin_state_up": False}})
    client.delete("/ports/" + p["id"])
    assert watch_now(chan, h1, since) == since
    assert watch_now(chan, h3, since) > since
    # a port created, going ACTIVE, admin down and moved away from h2 on "shared": h1 wakes
    # each time; deleted on h3 (no VTEP, listed by nobody) it concerns h3 alone
    steps = [(lambda: bound(client, shared, h2), True),
             (lambda: chan.report(h2, {q["id"]: "ACTIVE"}), True),
             (lambda: client.put("/ports/" + q["id"], {"port": {"admin_state_up": False}}), True),
             (lambda: client.put("/ports/" + q["id"], {"port": {"binding:host_id": h3}}), True),
             (lambda: client.delete("/ports/" + q["id"]), False)]
    q = None
    for step, wakes in steps:
        since = chan.state(h1)["revision"]
        result = step()
        q = q or result
        assert (watch_now(chan, h1, since) > since) is wakes, step
    assert watch_now(chan, h3, since) > since


def test_watch_sleeps_through_changes_that_alter_no_entry(client, chan, hosts):
    (h1, h2, _), _ = hosts
    net = vxlan_net(client, "l2pop-f", "10.66.0.0/24")
    bound(client, net, h1)
    bound(client, net, h2)
    since = chan.state(h1)["revision"]
    # h2 is already a VTEP of the network: a second, DOWN port there changes nothing for h1
    p = bound(client, net, h2)
    client.put("/ports/" + p["id"], {"port": {"name": "renamed"}})
    assert watch_now(chan, h1, since) == since
    chan.report(h2, {p["id"]: "ACTIVE"})
    assert watch_now(chan, h1, since) > since
    # deleting an ACTIVE port removes its entry
    since = chan.state(h1)["revision"]
    client.delete("/ports/" + p["id"])
    assert watch_now(chan, h1, since) > since


def test_ports_of_a_host_without_vtep_wake_only_that_host(client, chan, hosts):
    (h1, _, h3), _ = hosts
    net = vxlan_net(client, "l2pop-novtep", "10.68.0.0/24")
    bound(client, net, h1)
    since = chan.state(h1)["revision"]
    # h3 has no tunnel_ip: no other host lists its ports, so h1 sleeps through them
    p3 = bound(client, net, h3)
    chan.report(h3, {p3["id"]: "ACTIVE"})
    client.put("/ports/" + p3["id"], {"port": {"admin_state_up": False}})
    assert watch_now(chan, h1, since) == since
    assert watch_now(chan, h3, since) > since
    assert chan.state(h1)["tunnels"][net["id"]]["vteps"] == {}
    # h3's agent now reports a VTEP: h1 wakes and lists it, and h3's ports wake h1 from now on
    chan.register(h3, OVS, tunnel_ip="192.0.2.3", tunnel_types=["vxlan"], l2_population=True)
    assert watch_now(chan, h1, since) > since
    since = chan.state(h1)["revision"]
    client.put("/ports/" + p3["id"], {"port": {"admin_state_up": True}})
    chan.report(h3, {p3["id"]: "ACTIVE"})
    assert watch_now(chan, h1, since) > since
    assert chan.state(h1)["tunnels"][net["id"]]["vteps"] == {"192.0.2.3": [entry(p3)]}


def test_states_asked_for_together_are_each_host_s_own(client, chan, server, hosts):
    """Concurrent state fetches are read in batches (channel/batch.py): each answer must be
    exactly what the host gets when it asks alone, DHCP section and tunnels included."""
    (h1, h2, h3), _ = hosts
    net = vxlan_net(client, "l2pop-batch", "10.69.0.0/24")
    ports = {h: bound(client, net, h) for h in (h1, h2, h3)}
    for h, p in ports.items():
        chan.report(h, {p["id"]: "ACTIVE"})
    parent = bound(client, net, h2)
    client.create("trunk", port_id=parent["id"])
    asks = [(h, dhcp) for h in (h1, h2, h3, "l2-none-" + h1) for dhcp in (0, 1)]
    alone = {ask: chan.state(ask[0], **({"dhcp": 1} if ask[1] else {})) for ask in asks}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        together = list(pool.map(
            lambda ask: chan.state(ask[0], **({"dhcp": 1} if ask[1] else {})), asks * 6))
    for ask, got in zip(asks * 6, together):
        assert got == alone[ask], ask
    assert alone[(h1, 0)]["tunnels"][net["id"]]["vteps"] == {
        "192.0.2.2": [entry(ports[h2])]}
    assert [t["port_id"] for t in alone[(h2, 0)]["trunks"]] == [parent["id"]]
    assert "dhcp" in alone[(h3, 1)] and "dhcp" not in alone[(h3, 0)]


def test_a_vtep_only_carries_its_tunnel_types(client, chan, hosts):
    (h1, h2, _), _ = hosts
    h4 = "l2h4-" + uuid.uuid4().hex[:6]
    chan.register(h4, OVS, tunnel_ip="192.0.2.4", tunnel_types=["vxlan", "gre"],
                  l2_population=True)
    net = vxlan_net(client, "l2pop-gre", "10.67.0.0/24", ntype="gre")
    bound(client, net, h1)
    p2, p4 = bound(client, net, h2), bound(client, net, h4)
    chan.report(h2, {p2["id"]: "ACTIVE"})
    chan.report(h4, {p4["id"]: "ACTIVE"})
    # h2's Linux bridge agent does no GRE: it is no VTEP of a GRE network
    t = chan.state(h1)["tunnels"][net["id"]]
    assert t["network_type"] == "gre" and t["vteps"] == {"192.0.2.4": [entry(p4)]}


@pytest.mark.parametrize("args,message", [
    (["--tunnel-ip", "192.0.2.300"], "is not an IPv4 address"),
    (["--tunnel-types", "vxlan,geneve"], "comma-separated list of vxlan and gre"),
    (["--physnet-mapping", "physnet1"], "expected PHYSNET:IFACE"),
    (["--physnet-mapping", "physnet1:eth2", "--physnet-mapping", "physnet1:eth3"],
     "physical network physnet1 mapped twice"),
])
def test_agent_refuses_bad_tunnel_and_physnet_options(args, message):
    r = subprocess.run([os.path.join(os.path.dirname(sys.executable), "trunkline"), "agent",
                        "--server", "http://127.0.0.1:1", *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and message in r.stderr, r.stderr
