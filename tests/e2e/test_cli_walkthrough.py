"""The seed's walkthrough, verbatim, through the real ``openstack`` CLI (python-openstackclient),
with ``-f json`` so the answers can be checked field by field."""
import json
import os
import shlex
import subprocess
import sys

import pytest

OPENSTACK = os.path.join(os.path.dirname(sys.executable), "openstack")


@pytest.fixture(scope="module")
def osc(server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_TYPE="none", OS_ENDPOINT=server.url)

    def run(cmd, json_out=True):
        argv = [OPENSTACK] + shlex.split(cmd) + (["-f", "json"] if json_out else [])
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, "%s failed: %s" % (cmd, r.stderr)
        return json.loads(r.stdout) if json_out and r.stdout.strip() else r.stdout
    return run


def test_seed_walkthrough(osc):
    nets = {n: osc("network create %s" % n) for n in ("net0", "net1", "net2")}
    for net in nets.values():
        assert net["status"] == "ACTIVE" and net["mtu"] == 1450
        assert net["provider:network_type"] == "vxlan"
    for i, n in enumerate(("net0", "net1", "net2")):
        sub = osc("subnet create --network %s --subnet-range 10.0.%d.0/24 subnet%d" % (n, 4 + i, i))
        assert sub["gateway_ip"] == "10.0.%d.1" % (4 + i)
        assert sub["allocation_pools"] == [{"start": "10.0.%d.2" % (4 + i),
                                            "end": "10.0.%d.254" % (4 + i)}]
    parent = osc("port create --network net0 trunkparent")
    sub1 = osc("port create --network net1 subport1")
    sub2 = osc("port create --network net2 subport2")
    for port in (parent, sub1, sub2):
        assert port["mac_address"].startswith("fa:16:3e:")
        assert port["status"] == "DOWN"
    assert sub1["fixed_ips"][0]["ip_address"].startswith("10.0.5.")

    trunk = osc("network trunk create --parent-port trunkparent "
                "--subport port=subport1,segmentation-type=vlan,segmentation-id=1 "
                "--subport port=subport2,segmentation-type=vlan,segmentation-id=2 mytrunk")
    assert trunk["name"] == "mytrunk"
    assert trunk["status"] == "DOWN"
    assert trunk["is_admin_state_up"] is True
    assert trunk["port_id"] == parent["id"]
    assert sorted((s["port_id"], s["segmentation_id"]) for s in trunk["sub_ports"]) == sorted(
        [(sub1["id"], 1), (sub2["id"], 2)])

    listed = osc("network trunk list")
    assert [(t["Name"], t["Parent Port"]) for t in listed] == [("mytrunk", parent["id"])]
    shown = osc("network trunk show mytrunk")
    assert shown["id"] == trunk["id"]
    subports = osc("network subport list --trunk mytrunk")
    assert sorted((s["Port"], s["Segmentation Type"], s["Segmentation ID"]) for s in subports) \
        == sorted([(sub1["id"], "vlan", 1), (sub2["id"], "vlan", 2)])

    details = osc("port show trunkparent")["trunk_details"]
    assert details["trunk_id"] == trunk["id"]
    assert {s["port_id"]: s["mac_address"] for s in details["sub_ports"]} == {
        sub1["id"]: sub1["mac_address"], sub2["id"]: sub2["mac_address"]}

    osc("network trunk set --description seed --disable mytrunk", json_out=False)
    assert osc("network trunk show mytrunk")["is_admin_state_up"] is False
    osc("network trunk set --enable mytrunk", json_out=False)
    osc("network trunk unset --subport subport2 mytrunk", json_out=False)
    assert [s["Port"] for s in osc("network subport list --trunk mytrunk")] == [sub1["id"]]
    osc("network trunk set --subport port=subport2,segmentation-type=vlan,segmentation-id=20 "
        "mytrunk", json_out=False)
    assert sorted(s["Segmentation ID"] for s in osc("network subport list --trunk mytrunk")) \
        == [1, 20]

    osc("network trunk delete mytrunk", json_out=False)
    assert osc("network trunk list") == []
    osc("port delete trunkparent subport1 subport2", json_out=False)
    osc("network delete net0 net1 net2", json_out=False)
    assert [n["Name"] for n in osc("network list")] == []
