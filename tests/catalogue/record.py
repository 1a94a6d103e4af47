"""A catalogue of requests Neutron answers with an error (plus a few successes whose shape
matters), the small setup language each entry uses, and a recorder.

Run against the Neutron oracle to (re)write ``neutron_answers.json``::

    python tests/catalogue/record.py --url http://127.0.0.1:9797 --write

or against any server to print how it differs from the recording::

    python tests/catalogue/record.py --url http://127.0.0.1:9696

An entry's ``setup`` is a list of steps: ``(kind, name, attrs)`` creates a network, subnet,
port, trunk, security group or security group rule and remembers its id under ``name``; ``("put", path, body)`` and
``("post", path, body)`` send a request that must succeed. ``{name}`` anywhere in a path, a body
or a header is replaced by that id (``{run}`` is a token unique to the run), and recorded messages
carry the placeholders back instead of the ids, so a recording compares with any server.
"""
import argparse
import json
import os
import re
import sys
import uuid

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ANSWERS = os.path.join(HERE, "neutron_answers.json")
MISSING = "9b3ad9a4-5b1e-4c7a-8d55-0a6c2f1e9d01"  # a valid UUID nothing ever has
CORE = {"network": "networks", "subnet": "subnets", "port": "ports", "trunk": "trunks"}
# what a setup step can create: member -> URL path (the body's collection key is member + "s")
COLLECTIONS = dict(CORE, security_group="security-groups",
                   security_group_rule="security-group-rules")
CLEANUP_ORDER = ["trunks", "ports", "security-group-rules", "security-groups", "subnets",
                 "networks"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def entry(id_, method, path, body=None, setup=(), raw=None, headers=None, shape=False,
          message=True, deviation=None):
    """One catalogue request. ``shape=True`` records a success's keys (``"brief"``: only list
    lengths and link relations; any success that is not an error gets at least that);
    ``message=False`` marks a message that is not deterministic (not compared);
    ``deviation`` is what trunkline answers instead where Neutron's answer is a bug (a 500)."""
    return {"id": id_, "method": method, "path": path, "body": body, "raw": raw,
            "headers": headers or {}, "setup": list(setup), "shape": shape,
            "message": message, "deviation": deviation}


def _bug(status, type_, message):
    return {"status": status, "type": type_, "message": message,
            "note": "Neutron answers 500 (an unhandled exception); trunkline answers this 4xx"}


def _not_found(member):
    return _bug(404, member.capitalize() + "NotFound", "%s %s could not be found."
                % (member.capitalize(), MISSING))


NO_SUB_PORTS = _bug(400, "HTTPBadRequest", "Unable to find 'sub_ports' in request body")

# -- setups

NET = [("network", "net1", {"name": "cat-{run}"})]
SUB = NET + [("subnet", "sub1", {"network_id": "{net1}", "cidr": "10.10.0.0/24",
                                 "ip_version": 4})]
PORT = SUB + [("port", "port1", {"network_id": "{net1}", "mac_address": "fa:16:3e:11:22:33",
                                 "fixed_ips": [{"subnet_id": "{sub1}",
                                                "ip_address": "10.10.0.10"}]})]
OPTS_PORT = SUB + [("port", "port1", {"network_id": "{net1}", "extra_dhcp_opts": [
    {"opt_name": "mtu", "opt_value": "1400"}]})]
NET2 = [("network", "net2", {"name": "cat2-{run}"}),
        ("subnet", "sub2", {"network_id": "{net2}", "cidr": "10.20.0.0/24", "ip_version": 4})]
PARENT = SUB + [("port", "parent", {"network_id": "{net1}"}),
                ("port", "sp1", {"network_id": "{net1}"}),
                ("port", "sp2", {"network_id": "{net1}"})]
TRUNK = PARENT + [("trunk", "t1", {"port_id": "{parent}"})]
TRUNK_SUB = PARENT + [("trunk", "t1", {"port_id": "{parent}", "sub_ports": [
    {"port_id": "{sp1}", "segmentation_type": "vlan", "segmentation_id": 100}]})]
TRUNK_OFF = TRUNK_SUB + [("put", "/trunks/{t1}", {"trunk": {"admin_state_up": False}})]
MTU = NET + [("network", "big", {"name": "big-{run}", "mtu": 1450}),
             ("put", "/networks/{net1}", {"network": {"mtu": 1400}}),
             ("port", "parent", {"network_id": "{net1}"}),
             ("port", "bigport", {"network_id": "{big}"})]
OTHER_TRUNK = PARENT + [("port", "parent2", {"network_id": "{net1}"}),
                        ("trunk", "t1", {"port_id": "{parent}", "sub_ports": [
                            {"port_id": "{sp1}", "segmentation_type": "vlan",
                             "segmentation_id": 100}]})]
DEVICE = PARENT + [("port", "vm", {"network_id": "{net1}", "device_id": "vm-1",
                                   "device_owner": "compute:nova"})]
PAGES = [("network", "pa", {"name": "pg-{run}-a"}), ("network", "pb", {"name": "pg-{run}-b"}),
         ("network", "pc", {"name": "pg-{run}-c"})]
PAGE_Q = "/networks?name=pg-{run}-a&name=pg-{run}-b&name=pg-{run}-c&sort_key=name&sort_dir=asc"


def vlan(port, seg_id=100, seg_type="vlan"):
    return {"port_id": port, "segmentation_type": seg_type, "segmentation_id": seg_id}


def trunk_body(subs, port="{parent}", **extra):
    return {"trunk": dict({"port_id": port, "sub_ports": subs}, **extra)}


def _bodies():
    return [
        entry("body-malformed-json", "POST", "/networks", raw="{bad json"),
        entry("body-missing-post", "POST", "/networks", raw=""),
        entry("body-missing-put", "PUT", "/networks/{net1}", raw="", setup=NET),
        entry("body-json-list", "POST", "/networks", raw="[1, 2]"),
        entry("body-json-string", "POST", "/networks", raw='"network"'),
        entry("body-wrong-member", "POST", "/networks", {"netwrk": {"name": "x"}}),
        entry("body-member-not-dict", "POST", "/networks", {"network": "x"}),
        entry("body-member-null", "POST", "/networks", {"network": None}),
        entry("body-put-wrong-member", "PUT", "/networks/{net1}", {"port": {"name": "x"}},
              setup=NET),
        entry("body-put-bulk", "PUT", "/networks/{net1}", {"networks": [{"name": "x"}]},
              setup=NET),
        entry("body-bulk-empty", "POST", "/networks", {"networks": []}),
        entry("body-bulk-not-list", "POST", "/networks", {"networks": {"name": "x"}}),
        entry("body-bulk-bad-item", "POST", "/networks",
              {"networks": [{"network": {"name": "x"}}, {"network": {"bogus": 1}}]}),
        entry("body-unknown-attr", "POST", "/networks", {"network": {"bogus": 1}}),
        entry("body-unknown-attr-put", "PUT", "/networks/{net1}", {"network": {"bogus": 1}},
              setup=NET),
        entry("body-post-status", "POST", "/networks", {"network": {"status": "ACTIVE"}}),
        entry("body-post-id", "POST", "/networks", {"network": {"id": MISSING}}),
        entry("body-post-revision", "POST", "/networks", {"network": {"revision_number": 3}}),
        entry("body-project-mismatch", "POST", "/networks",
              {"network": {"project_id": "a", "tenant_id": "b"}}),
        entry("body-put-status", "PUT", "/networks/{net1}", {"network": {"status": "DOWN"}},
              setup=NET),
        entry("body-put-id", "PUT", "/networks/{net1}", {"network": {"id": MISSING}},
              setup=NET),
        entry("body-put-project", "PUT", "/networks/{net1}", {"network": {"project_id": "x"}},
              setup=NET),
        entry("body-put-subnets", "PUT", "/networks/{net1}", {"network": {"subnets": []}},
              setup=NET),
    ]


def _types():
    return [
        entry("type-admin-state-string", "POST", "/networks",
              {"network": {"admin_state_up": "maybe"}}),
        entry("type-admin-state-int", "POST", "/networks", {"network": {"admin_state_up": 2}}),
        entry("type-admin-state-list", "PUT", "/networks/{net1}",
              {"network": {"admin_state_up": [True]}}, setup=NET),
        entry("type-shared-string", "POST", "/networks", {"network": {"shared": "yes"}}),
        entry("type-name-int", "POST", "/networks", {"network": {"name": 123}}),
        entry("type-name-too-long", "POST", "/networks", {"network": {"name": "n" * 256}}),
        entry("type-description-too-long", "PUT", "/networks/{net1}",
              {"network": {"description": "d" * 256}}, setup=NET),
        entry("type-name-list", "POST", "/networks", {"network": {"name": ["a"]}}),
        entry("type-mtu-string", "POST", "/networks", {"network": {"mtu": "big"}}),
        entry("type-mtu-too-small", "POST", "/networks", {"network": {"mtu": 10}}),
        entry("type-mtu-too-big", "POST", "/networks", {"network": {"mtu": 9000}}),
        entry("type-network-type-unknown", "POST", "/networks",
              {"network": {"provider:network_type": "bogus"}}),
        entry("type-external-string", "POST", "/networks",
              {"network": {"router:external": "maybe"}}),
        entry("type-port-device-id-long", "POST", "/ports",
              {"port": {"network_id": "{net1}", "device_id": "d" * 256}}, setup=NET),
        entry("type-port-vnic-type", "POST", "/ports",
              {"port": {"network_id": "{net1}", "binding:vnic_type": "bogus"}}, setup=NET),
        entry("type-port-admin-state", "PUT", "/ports/{port1}",
              {"port": {"admin_state_up": "nope"}}, setup=PORT),
        entry("type-trunk-name-long", "POST", "/trunks",
              {"trunk": {"port_id": "{parent}", "name": "t" * 256}}, setup=PARENT),
        entry("type-trunk-admin-state", "PUT", "/trunks/{t1}",
              {"trunk": {"admin_state_up": "off"}}, setup=TRUNK),
    ]


def _subnets():
    def post(id_, **attrs):
        body = dict({"network_id": "{net1}", "ip_version": 4, "cidr": "10.30.0.0/24"}, **attrs)
        return entry(id_, "POST", "/subnets", {"subnet": body}, setup=NET)

    return [
        post("subnet-cidr-bad-prefix", cidr="10.0.0.0/33"),
        post("subnet-cidr-garbage", cidr="not-a-cidr"),
        post("subnet-cidr-host-bits", cidr="10.30.0.1/24"),
        entry("subnet-cidr-missing", "POST", "/subnets", {"subnet": {
            "network_id": "{net1}", "ip_version": 4, "cidr": None}}, setup=NET,
            deviation=_bug(400, "BadRequest", "Bad subnets request: a subnetpool must be "
                           "specified in the absence of a cidr.")),
        post("subnet-ip-version-5", ip_version=5),
        post("subnet-ip-version-string", ip_version="four"),
        post("subnet-ip-version-mismatch", cidr="2001:db8::/64"),
        entry("subnet-network-missing-attr", "POST", "/subnets",
              {"subnet": {"ip_version": 4, "cidr": "10.0.0.0/24"}}),
        post("subnet-network-bad-uuid", network_id="net-one"),
        post("subnet-network-not-found", network_id=MISSING),
        post("subnet-gateway-bad", gateway_ip="10.30.0.300"),
        post("subnet-gateway-v6-on-v4", gateway_ip="2001:db8::1"),
        post("subnet-gateway-network-address", gateway_ip="10.30.0.0"),
        post("subnet-pool-out-of-range",
             allocation_pools=[{"start": "10.30.0.10", "end": "10.30.1.10"}]),
        post("subnet-pool-overlap", allocation_pools=[
            {"start": "10.30.0.10", "end": "10.30.0.20"},
            {"start": "10.30.0.15", "end": "10.30.0.30"}]),
        post("subnet-pool-gateway-inside", gateway_ip="10.30.0.12",
             allocation_pools=[{"start": "10.30.0.10", "end": "10.30.0.20"}]),
        post("subnet-pool-reversed", allocation_pools=[{"start": "10.30.0.20",
                                                        "end": "10.30.0.10"}]),
        # the message prints a Python set, whose order varies between Neutron processes
        entry("subnet-pool-bad-format", "POST", "/subnets", {"subnet": {
            "network_id": "{net1}", "ip_version": 4, "cidr": "10.30.0.0/24",
            "allocation_pools": [{"start": "10.30.0.20"}]}}, setup=NET, message=False),
        post("subnet-pool-bad-ip", allocation_pools=[{"start": "10.30.0.x",
                                                      "end": "10.30.0.30"}]),
        post("subnet-pool-not-list", allocation_pools="10.30.0.2-10.30.0.9"),
        post("subnet-gateway-broadcast", gateway_ip="10.30.0.255"),
        post("subnet-pool-v6-on-v4", allocation_pools=[{"start": "2001:db8::2",
                                                        "end": "2001:db8::9"}]),
        post("subnet-dns-bad", dns_nameservers=["8.8.8.x"]),
        post("subnet-dns-duplicate", dns_nameservers=["8.8.8.8", "8.8.8.8"]),
        entry("subnet-host-route-bad", "POST", "/subnets", {"subnet": {
            "network_id": "{net1}", "ip_version": 4, "cidr": "10.30.0.0/24",
            "host_routes": [{"destination": "10.0.0.0/8"}]}}, setup=NET, message=False),
        post("subnet-enable-dhcp-bad", enable_dhcp="sometimes"),
        post("subnet-v6-mode-on-v4", ipv6_ra_mode="slaac"),
        post("subnet-v6-mode-unknown", ip_version=6, cidr="2001:db8::/64",
             ipv6_address_mode="bogus"),
        post("subnet-v6-mode-mismatch", ip_version=6, cidr="2001:db8::/64",
             ipv6_ra_mode="slaac", ipv6_address_mode="dhcpv6-stateful"),
        entry("subnet-overlap", "POST", "/subnets", {"subnet": {
            "network_id": "{net1}", "ip_version": 4, "cidr": "10.10.0.128/25"}}, setup=SUB),
        entry("subnet-put-cidr", "PUT", "/subnets/{sub1}",
              {"subnet": {"cidr": "10.10.0.0/16"}}, setup=SUB),
        entry("subnet-put-network", "PUT", "/subnets/{sub1}",
              {"subnet": {"network_id": MISSING}}, setup=SUB),
        entry("subnet-put-ip-version", "PUT", "/subnets/{sub1}",
              {"subnet": {"ip_version": 6}}, setup=SUB),
        entry("subnet-put-gateway-in-pool", "PUT", "/subnets/{sub1}",
              {"subnet": {"gateway_ip": "10.10.0.50"}}, setup=SUB),
        entry("subnet-put-pool-out-of-range", "PUT", "/subnets/{sub1}",
              {"subnet": {"allocation_pools": [{"start": "10.10.0.2", "end": "10.10.9.9"}]}},
              setup=SUB),
        entry("subnet-delete-in-use", "DELETE", "/subnets/{sub1}", setup=SUB + [
            ("port", "vm", {"network_id": "{net1}", "device_owner": "compute:nova"})]),
    ]


def _ports():
    def post(id_, setup=SUB, **attrs):
        return entry(id_, "POST", "/ports", {"port": dict({"network_id": "{net1}"}, **attrs)},
                     setup=setup)

    return [
        entry("port-network-missing-attr", "POST", "/ports", {"port": {"name": "p"}}),
        post("port-network-bad-uuid", network_id="net-one"),
        post("port-network-not-found", network_id=MISSING),
        post("port-mac-bad", mac_address="fa:16:3e:zz:00:01"),
        post("port-mac-multicast", mac_address="01:00:5e:00:00:01"),
        post("port-mac-zero", mac_address="00:00:00:00:00:00"),
        post("port-mac-int", mac_address=12),
        post("port-mac-in-use", setup=PORT, mac_address="fa:16:3e:11:22:33"),
        post("port-ip-not-in-subnet", fixed_ips=[{"subnet_id": "{sub1}",
                                                  "ip_address": "10.99.0.5"}]),
        post("port-ip-not-on-network", fixed_ips=[{"ip_address": "10.99.0.5"}]),
        post("port-ip-broadcast", fixed_ips=[{"subnet_id": "{sub1}",
                                              "ip_address": "10.10.0.255"}]),
        post("port-ip-in-use", setup=PORT, fixed_ips=[{"ip_address": "10.10.0.10"}]),
        post("port-ip-duplicate-request", fixed_ips=[{"ip_address": "10.10.0.7"},
                                                     {"ip_address": "10.10.0.7"}]),
        post("port-subnet-other-network", setup=SUB + NET2,
             fixed_ips=[{"subnet_id": "{sub2}"}]),
        post("port-subnet-not-found", fixed_ips=[{"subnet_id": MISSING}]),
        post("port-subnet-bad-uuid", fixed_ips=[{"subnet_id": "sub-one"}]),
        post("port-fixed-ips-bad-ip", fixed_ips=[{"ip_address": "10.10.0.x"}]),
        post("port-fixed-ips-bad-key", fixed_ips=[{"ip": "10.10.0.7"}]),
        post("port-fixed-ips-not-dict", fixed_ips=["10.10.0.7"]),
        post("port-fixed-ips-string", fixed_ips="10.10.0.7"),
        post("port-pairs-bad-mac", allowed_address_pairs=[{"ip_address": "10.1.1.1",
                                                           "mac_address": "nope"}]),
        post("port-pairs-no-ip", allowed_address_pairs=[{"mac_address": "fa:16:3e:00:00:01"}]),
        post("port-pairs-not-list", allowed_address_pairs="10.0.0.1"),
        entry("port-put-network", "PUT", "/ports/{port1}", {"port": {"network_id": MISSING}},
              setup=PORT),
        entry("port-put-status", "PUT", "/ports/{port1}", {"port": {"status": "ACTIVE"}},
              setup=PORT),
        entry("port-put-mac-in-use", "PUT", "/ports/{port2}",
              {"port": {"mac_address": "fa:16:3e:11:22:33"}},
              setup=PORT + [("port", "port2", {"network_id": "{net1}"})]),
        entry("port-put-ip-in-use", "PUT", "/ports/{port2}",
              {"port": {"fixed_ips": [{"ip_address": "10.10.0.10"}]}},
              setup=PORT + [("port", "port2", {"network_id": "{net1}"})]),
        entry("port-delete-trunk-parent", "DELETE", "/ports/{parent}", setup=TRUNK_SUB),
        entry("port-delete-subport", "DELETE", "/ports/{sp1}", setup=TRUNK_SUB),
    ]


def _missing():
    out = []
    for member, collection in CORE.items():
        out += [
            entry("missing-%s-get" % member, "GET", "/%s/%s" % (collection, MISSING)),
            entry("missing-%s-get-bad-uuid" % member, "GET", "/%s/not-a-uuid" % collection),
            entry("missing-%s-put" % member, "PUT", "/%s/%s" % (collection, MISSING),
                  {member: {"name": "x"}}),
            entry("missing-%s-delete" % member, "DELETE", "/%s/%s" % (collection, MISSING)),
            entry("missing-%s-tags" % member, "GET", "/%s/%s/tags" % (collection, MISSING),
                  deviation=_not_found(member)),
        ]
    return out


def _in_use():
    return [
        entry("network-delete-in-use", "DELETE", "/networks/{net1}", setup=SUB + [
            ("port", "vm", {"network_id": "{net1}", "device_owner": "compute:nova"})]),
        entry("network-put-mtu-too-big", "PUT", "/networks/{net1}",
              {"network": {"mtu": 9000}}, setup=NET),
    ]


def _listing():
    return [
        entry("list-unknown-filter-networks", "GET", "/networks?bogus=1"),
        entry("list-unknown-filter-ports", "GET", "/ports?bogus=1"),
        entry("list-unknown-filter-trunks", "GET", "/trunks?sub_ports=x"),
        entry("list-filter-bool-bad", "GET", "/networks?admin_state_up=maybe"),
        entry("list-filter-int-bad", "GET", "/networks?mtu=abc"),
        entry("list-sort-key-bad", "GET", "/networks?sort_key=bogus&sort_dir=asc"),
        entry("list-sort-dir-bad", "GET", "/networks?sort_key=name&sort_dir=up"),
        entry("list-sort-key-unsortable", "GET", "/trunks?sort_key=sub_ports&sort_dir=asc"),
        entry("list-sort-dir-count", "GET",
              "/networks?sort_key=name&sort_key=id&sort_dir=asc"),
        entry("list-limit-negative", "GET", "/networks?limit=-1"),
        entry("list-limit-string", "GET", "/networks?limit=ten"),
        entry("list-marker-missing", "GET", "/networks?limit=1&marker=" + MISSING),
        entry("list-page-reverse-bad", "GET", "/networks?name=none-{run}&page_reverse=maybe"),
        entry("list-limit-zero", "GET", "/networks?name=none-{run}&limit=0"),
        entry("list-filter-empty-bool", "GET", "/trunks?name=none-{run}&admin_state_up="),
        entry("list-filter-empty-int", "GET", "/networks?name=none-{run}&mtu="),
        entry("show-fields-missing", "GET", "/networks/%s?fields=id" % MISSING),
        entry("list-page-1", "GET", PAGE_Q + "&limit=2", setup=PAGES, shape="brief"),
        entry("list-page-2", "GET", PAGE_Q + "&limit=2&marker={pb}", setup=PAGES, shape="brief"),
        entry("list-page-reverse", "GET", PAGE_Q + "&limit=2&marker={pb}&page_reverse=True",
              setup=PAGES, shape="brief"),
        entry("list-page-exact", "GET", PAGE_Q + "&limit=3", setup=PAGES, shape="brief"),
    ]


def _if_match():
    return [
        entry("if-match-put-network", "PUT", "/networks/{net1}", {"network": {"name": "y"}},
              headers={"If-Match": "revision_number=99"}, setup=NET),
        entry("if-match-delete-network", "DELETE", "/networks/{net1}",
              headers={"If-Match": "revision_number=99"}, setup=NET),
        entry("if-match-put-port", "PUT", "/ports/{port1}", {"port": {"name": "y"}},
              headers={"If-Match": "revision_number=0"}, setup=PORT),
        entry("if-match-put-trunk", "PUT", "/trunks/{t1}", {"trunk": {"name": "y"}},
              headers={"If-Match": "revision_number=7"}, setup=TRUNK),
        entry("if-match-delete-trunk", "DELETE", "/trunks/{t1}",
              headers={"If-Match": "revision_number=7"}, setup=TRUNK),
        entry("if-match-delete-trunk-ok", "DELETE", "/trunks/{t1}",
              headers={"If-Match": "revision_number=0"}, setup=TRUNK),
        entry("if-match-not-integer", "PUT", "/networks/{net1}", {"network": {"name": "y"}},
              headers={"If-Match": "revision_number=abc"}, setup=NET),
    ]


def _tags():
    tags = "/networks/{net1}/tags"
    return [
        entry("tags-put-not-dict", "PUT", tags, ["a"], setup=NET),
        entry("tags-put-no-tags-key", "PUT", tags, {"tag": ["a"]}, setup=NET),
        entry("tags-put-not-list", "PUT", tags, {"tags": "a"}, setup=NET),
        entry("tags-put-too-many", "PUT", tags, {"tags": ["t%d" % i for i in range(51)]},
              setup=NET),
        entry("tags-put-too-long", "PUT", tags, {"tags": ["x" * 256]}, setup=NET),
        entry("tags-put-not-string", "PUT", tags, {"tags": [5]}, setup=NET),
        entry("tags-put-one-too-long", "PUT", tags + "/" + "x" * 256, setup=NET),
        entry("tags-put-duplicate", "PUT", tags, {"tags": ["a", "a"]}, setup=NET),
        entry("tags-put-empty-string", "PUT", tags, {"tags": [""]}, setup=NET),
        entry("tags-get-missing-tag", "GET", tags + "/nope", setup=NET),
        entry("tags-delete-missing-tag", "DELETE", tags + "/nope", setup=NET),
        entry("tags-missing-resource-put", "PUT", "/trunks/%s/tags" % MISSING, {"tags": ["a"]},
              deviation=_not_found("trunk")),
        entry("tags-missing-resource-add", "PUT", "/ports/%s/tags/a" % MISSING,
              deviation=_not_found("port")),
        entry("tags-post", "POST", tags, {"tags": ["a"]}, setup=NET),
        entry("tags-ok-replace", "PUT", tags, {"tags": ["b", "a"]}, setup=NET, shape=True),
        entry("tags-ok-add", "PUT", tags + "/a", setup=NET, shape=True),
        entry("tags-ok-check", "GET", tags + "/a", shape=True,
              setup=NET + [("put", tags + "/a", None)]),
        entry("tags-ok-index", "GET", tags, shape=True,
              setup=NET + [("put", tags, {"tags": ["a", "b"]})]),
        entry("tags-ok-remove", "DELETE", tags + "/a", shape=True,
              setup=NET + [("put", tags + "/a", None)]),
        entry("tags-ok-remove-all", "DELETE", tags, setup=NET, shape=True),
    ]


def _urls():
    return [
        entry("url-unknown-collection", "GET", "/bogus"),
        entry("url-unknown-subresource", "GET", "/networks/{net1}/bogus", setup=NET),
        entry("url-delete-collection", "DELETE", "/ports"),
        entry("url-put-collection", "PUT", "/networks", {"network": {"name": "x"}}),
        entry("url-post-member", "POST", "/networks/{net1}", {"network": {"name": "x"}},
              setup=NET),
        entry("url-trunk-unknown-action", "PUT", "/trunks/{t1}/bogus_action", {}, setup=TRUNK),
        entry("url-add-subports-get", "GET", "/trunks/{t1}/add_subports", setup=TRUNK),
        entry("url-get-subports-put", "PUT", "/trunks/{t1}/get_subports", {}, setup=TRUNK),
        entry("url-add-subports-post", "POST", "/trunks/{t1}/add_subports",
              {"sub_ports": []}, setup=TRUNK),
    ]


def _trunk_create():
    def post(id_, subs, setup=PARENT, port="{parent}", shape=False, **extra):
        return entry(id_, "POST", "/trunks", trunk_body(subs, port, **extra), setup=setup,
                     shape=shape)

    return [
        entry("trunk-create-no-port", "POST", "/trunks", {"trunk": {"name": "t"}}),
        post("trunk-create-port-bad-uuid", [], port="parent"),
        post("trunk-create-port-not-found", [], port=MISSING),
        post("trunk-create-parent-is-parent", [], setup=TRUNK),
        post("trunk-create-parent-is-subport", [], setup=TRUNK_SUB, port="{sp1}"),
        post("trunk-create-status", [], status="ACTIVE"),
        post("trunk-create-subports-not-list", {"port_id": "{sp1}"}),
        post("trunk-create-subport-not-dict", ["{sp1}"]),
        post("trunk-create-subport-no-port", [{"segmentation_type": "vlan",
                                               "segmentation_id": 5}]),
        post("trunk-create-subport-bad-uuid", [vlan("sp1")]),
        post("trunk-create-subport-dup-port", [vlan("{sp1}", 5), vlan("{sp1}", 6)]),
        post("trunk-create-subport-half-seg", [{"port_id": "{sp1}",
                                                "segmentation_type": "vlan"}]),
        post("trunk-create-subport-dup-seg", [vlan("{sp1}", 5), vlan("{sp2}", 5)]),
        post("trunk-create-subport-only-port", [{"port_id": "{sp1}"}]),
        post("trunk-create-subport-is-parent", [vlan("{parent}")]),
        post("trunk-create-subport-mtu", [vlan("{bigport}")], setup=MTU),
        post("trunk-create-subport-seg-id-string", [vlan("{sp1}", "abc")]),
        post("trunk-create-subport-seg-id-numeric-string", [vlan("{sp1}", "12")],
             shape=True),
        post("trunk-create-subport-seg-type-unknown", [vlan("{sp1}", 5, "vxlan")]),
        post("trunk-create-subport-seg-id-zero", [vlan("{sp1}", 0)]),
        post("trunk-create-subport-seg-id-4095", [vlan("{sp1}", 4095)]),
        post("trunk-create-subport-in-trunk", [vlan("{sp1}")], setup=OTHER_TRUNK,
             port="{parent2}"),
        post("trunk-create-subport-is-other-parent", [vlan("{parent}")], setup=OTHER_TRUNK,
             port="{parent2}"),
        post("trunk-create-subport-not-found", [vlan(MISSING)]),
        post("trunk-create-subport-has-device", [vlan("{vm}")], setup=DEVICE),
        post("trunk-create-subport-seg-id-bool", [vlan("{sp1}", True)]),
        post("trunk-create-subport-seg-id-float", [vlan("{sp1}", 5.5)]),
        post("trunk-create-subport-seg-id-null", [vlan("{sp1}", None)]),
        post("trunk-create-subport-seg-type-null", [vlan("{sp1}", 5, None)]),
        post("trunk-create-description-long", [], description="d" * 256),
        post("trunk-create-inherit-vxlan", [vlan("{sp1}", 5, "inherit")]),
        post("trunk-create-inherit-skips-checks",
             [vlan("{sp1}", 5, "inherit"), vlan("{sp2}", 5), vlan("{sp2}", 5)]),
        # validation order: the first failing rule per subport wins
        post("trunk-order-mtu-before-type", [vlan("{bigport}", 5, "bogus")], setup=MTU),
        post("trunk-order-parent-before-range", [vlan("{parent}", 0)]),
        post("trunk-order-type-before-not-found", [vlan(MISSING, 5, "bogus")]),
        post("trunk-order-range-before-in-use", [vlan("{sp1}", 9999)], setup=OTHER_TRUNK,
             port="{parent2}"),
        post("trunk-order-parent-in-use-before-subports", [vlan(MISSING)], setup=TRUNK),
        post("trunk-order-first-subport-first", [vlan(MISSING), vlan("{parent}", 101)]),
        post("trunk-create-ok", [vlan("{sp1}", 10), vlan("{sp2}", 20)], shape=True),
        post("trunk-create-ok-tenant", [], tenant_id="{run}", shape=True),
    ]


def _trunk_actions():
    add, rem = "/trunks/{t1}/add_subports", "/trunks/{t1}/remove_subports"
    return [
        entry("trunk-add-not-found", "PUT", "/trunks/%s/add_subports" % MISSING,
              {"sub_ports": [vlan("{sp1}")]}, setup=PARENT),
        entry("trunk-add-bad-trunk-id", "PUT", "/trunks/bogus/add_subports",
              {"sub_ports": []}),
        entry("trunk-add-no-body", "PUT", add, raw="", setup=TRUNK, deviation=NO_SUB_PORTS),
        entry("trunk-add-body-not-dict", "PUT", add, [vlan("{sp1}")], setup=TRUNK,
              deviation=NO_SUB_PORTS),
        entry("trunk-add-no-sub-ports", "PUT", add, {"subports": [vlan("{sp1}")]},
              setup=TRUNK, deviation=NO_SUB_PORTS),
        entry("trunk-add-not-list", "PUT", add, {"sub_ports": vlan("{sp1}")}, setup=TRUNK),
        entry("trunk-add-no-port-id", "PUT", add, {"sub_ports": [{"segmentation_id": 3}]},
              setup=TRUNK),
        entry("trunk-add-dup-port", "PUT", add,
              {"sub_ports": [vlan("{sp2}", 3), vlan("{sp2}", 4)]}, setup=TRUNK),
        entry("trunk-add-dup-seg-existing", "PUT", add, {"sub_ports": [vlan("{sp2}", 100)]},
              setup=TRUNK_SUB),
        entry("trunk-add-already-subport", "PUT", add, {"sub_ports": [vlan("{sp1}", 101)]},
              setup=TRUNK_SUB),
        entry("trunk-add-out-of-range", "PUT", add, {"sub_ports": [vlan("{sp2}", 5000)]},
              setup=TRUNK),
        entry("trunk-add-only-port", "PUT", add, {"sub_ports": [{"port_id": "{sp2}"}]},
              setup=TRUNK),
        entry("trunk-add-parent", "PUT", add, {"sub_ports": [vlan("{parent}")]}, setup=TRUNK),
        entry("trunk-add-disabled", "PUT", add, {"sub_ports": [vlan("{sp2}", 200)]},
              setup=TRUNK_OFF),
        entry("trunk-add-disabled-bad-subport", "PUT", add,
              {"sub_ports": [vlan(MISSING, 200)]}, setup=TRUNK_OFF),
        entry("trunk-add-disabled-bad-body", "PUT", add, {"sub_ports": "x"},
              setup=TRUNK_OFF),
        entry("trunk-add-empty-list", "PUT", add, {"sub_ports": []}, setup=TRUNK_SUB,
              shape=True),
        entry("trunk-remove-empty-list", "PUT", rem, {"sub_ports": []}, setup=TRUNK_SUB,
              shape=True),
        entry("trunk-add-ok", "PUT", add, {"sub_ports": [vlan("{sp2}", 200)]},
              setup=TRUNK_SUB, shape=True),
        entry("trunk-remove-not-found", "PUT", "/trunks/%s/remove_subports" % MISSING,
              {"sub_ports": [{"port_id": "{sp1}"}]}, setup=PARENT),
        entry("trunk-remove-disabled-bad-body", "PUT", rem, {"sub_ports": "x"},
              setup=TRUNK_OFF),
        entry("trunk-remove-disabled", "PUT", rem, {"sub_ports": [{"port_id": "{sp1}"}]},
              setup=TRUNK_OFF),
        entry("trunk-remove-not-subport", "PUT", rem, {"sub_ports": [{"port_id": "{sp2}"}]},
              setup=TRUNK_SUB),
        entry("trunk-remove-other-trunk", "PUT", "/trunks/{t2}/remove_subports",
              {"sub_ports": [{"port_id": "{sp1}"}]},
              setup=OTHER_TRUNK + [("trunk", "t2", {"port_id": "{parent2}"})]),
        entry("trunk-remove-bad-uuid", "PUT", rem, {"sub_ports": [{"port_id": "sp1"}]},
              setup=TRUNK_SUB),
        entry("trunk-remove-no-sub-ports", "PUT", rem, {"ports": []}, setup=TRUNK_SUB,
              deviation=NO_SUB_PORTS),
        entry("trunk-remove-ok", "PUT", rem, {"sub_ports": [{"port_id": "{sp1}"}]},
              setup=TRUNK_SUB, shape=True),
        entry("trunk-get-subports-not-found", "GET", "/trunks/%s/get_subports" % MISSING),
        entry("trunk-get-subports-bad-id", "GET", "/trunks/bogus/get_subports"),
        entry("trunk-get-subports-ok", "GET", "/trunks/{t1}/get_subports", setup=TRUNK_SUB,
              shape=True),
        entry("trunk-delete-disabled", "DELETE", "/trunks/{t1}", setup=TRUNK_OFF),
        entry("trunk-delete-ok", "DELETE", "/trunks/{t1}", setup=TRUNK_SUB, shape=True),
        entry("trunk-update-port-id", "PUT", "/trunks/{t1}", {"trunk": {"port_id": "{sp1}"}},
              setup=TRUNK),
        entry("trunk-update-sub-ports", "PUT", "/trunks/{t1}", {"trunk": {"sub_ports": []}},
              setup=TRUNK),
        entry("trunk-update-status", "PUT", "/trunks/{t1}", {"trunk": {"status": "ACTIVE"}},
              setup=TRUNK),
        entry("trunk-update-unknown", "PUT", "/trunks/{t1}", {"trunk": {"vlan": 1}},
              setup=TRUNK),
        entry("trunk-update-ok", "PUT", "/trunks/{t1}", {"trunk": {"name": "renamed"}},
              setup=TRUNK, shape=True),
        entry("trunk-update-disabled-ok", "PUT", "/trunks/{t1}",
              {"trunk": {"admin_state_up": True}}, setup=TRUNK_OFF, shape=True),
        entry("bulk-create-ok", "POST", "/networks", {"networks": [
            {"name": "bulk-{run}-1"}, {"name": "bulk-{run}-2"}]}, shape="brief"),
    ]


def _dhcp_opts():
    """extra_dhcp_opt: neutron-lib's two key specs (blank-able router/classless-static-route,
    any other one-line name and value), duplicates in the request and in the table."""
    def post(id_, opts, shape=False):
        return entry(id_, "POST", "/ports", {"port": {"network_id": "{net1}",
                                                      "extra_dhcp_opts": opts}},
                     setup=SUB, shape=shape)

    def put(id_, opts, shape=False):
        return entry(id_, "PUT", "/ports/{port1}", {"port": {"extra_dhcp_opts": opts}},
                     setup=OPTS_PORT, shape=shape)

    def o(name, value, **extra):
        return dict({"opt_name": name, "opt_value": value}, **extra)

    return [
        post("dhcp-opt-not-list", "mtu"),
        post("dhcp-opt-dict", o("mtu", "1")),
        post("dhcp-opt-item-string", ["mtu"]),
        post("dhcp-opt-dup-items", [o("mtu", "1"), o("mtu", "1")]),
        post("dhcp-opt-dup-key", [o("mtu", "1"), o("mtu", "2")]),
        post("dhcp-opt-dup-key-version-string", [o("mtu", "1"), o("mtu", "1", ip_version="4")]),
        post("dhcp-opt-empty-value", [o("mtu", "")]),
        post("dhcp-opt-blank-value", [o("mtu", " ")]),
        post("dhcp-opt-empty-name", [o("", "x")]),
        post("dhcp-opt-newline-value", [o("bootfile-name", "a\nb")]),
        post("dhcp-opt-newline-name", [o("mt\nu", "1")]),
        post("dhcp-opt-cr-value", [o("bootfile-name", "a\rb")]),
        post("dhcp-opt-line-separator-value", [o("bootfile-name", "a\u2028b")]),
        post("dhcp-opt-nel-value", [o("bootfile-name", "a\x85b")]),
        post("dhcp-opt-name-too-long", [o("x" * 65, "1")]),
        post("dhcp-opt-value-too-long", [o("x", "y" * 256)]),
        post("dhcp-opt-router-too-long", [o("router", "y" * 256)]),
        post("dhcp-opt-version-5", [o("mtu", "1", ip_version=5)]),
        post("dhcp-opt-version-string-5", [o("mtu", "1", ip_version="5")]),
        post("dhcp-opt-version-word", [o("mtu", "1", ip_version="four")]),
        post("dhcp-opt-version-null", [o("mtu", "1", ip_version=None)]),
        post("dhcp-opt-version-list", [o("router", "1", ip_version=[6])]),
        post("dhcp-opt-version-bool", [o("mtu", "1", ip_version=True)]),
        post("dhcp-opt-no-value", [{"opt_name": "mtu"}]),
        post("dhcp-opt-no-name", [{"opt_value": "1"}]),
        post("dhcp-opt-unknown-key", [o("mtu", "1", bogus=1)]),
        post("dhcp-opt-name-int", [o(5, "1")]),
        post("dhcp-opt-value-int", [o("mtu", 5)]),
        post("dhcp-opt-name-list", [o(["router"], "1")]),
        post("dhcp-opt-ok", [o("mtu", "1400"), o("router", ""), o("tftp-server", None),
                             o("bootfile-name", "a,b;$(x)", ip_version="6")], shape="brief"),
        put("dhcp-opt-put-empty-value", [o("mtu", "")]),
        put("dhcp-opt-put-newline-value", [o("mtu", "1\ntag:x,option:router,6.6.6.6")]),
        put("dhcp-opt-put-dup-new-key", [o("new", "1", ip_version=6),
                                         o("new", "2", ip_version=6)]),
        put("dhcp-opt-put-ok", [o("mtu", None), o("bootfile-name", "b")], shape="brief"),
    ]


def _hardening():
    """Hostile text and limits (issue 7): IPv6 scope ids (Python's ipaddress accepts any text
    after a ``%``, netaddr refuses it), invalid UTF-8, free text Neutron stores as given."""
    v6 = {"network_id": "{net1}", "ip_version": 6, "cidr": "fd00:77::/64"}
    v4 = {"network_id": "{net1}", "ip_version": 4, "cidr": "10.77.0.0/24"}
    hostile = "a\nb,c;$(reboot) `id` | & > /etc/x \u202e"
    big = '{"network": {"name": "big-{run}"}}'
    return [
        entry("hard-dns-scope-id", "POST", "/subnets", {"subnet": dict(
            v6, dns_nameservers=["fe80::1%eth0\ndhcp-option=3"])}, setup=NET),
        entry("hard-cidr-scope-id", "POST", "/subnets", {"subnet": dict(
            v6, cidr="fe80::%x\n/64")}, setup=NET),
        entry("hard-route-scope-id", "POST", "/subnets", {"subnet": dict(
            v6, host_routes=[{"destination": "fd00:1::/64", "nexthop": "fe80::1%a,b"}])},
              setup=NET),
        entry("hard-gateway-scope-id", "POST", "/subnets", {"subnet": dict(
            v6, gateway_ip="fd00:77::1%x")}, setup=NET),
        entry("hard-pool-scope-id", "POST", "/subnets", {"subnet": dict(
            v6, allocation_pools=[{"start": "fd00:77::5%x", "end": "fd00:77::9"}])},
              setup=NET),
        entry("hard-fixed-ip-scope-id", "POST", "/ports", {"port": {
            "network_id": "{net1}", "fixed_ips": [{"ip_address": "10.10.0.9%x"}]}}, setup=SUB),
        entry("hard-pair-scope-id", "POST", "/ports", {"port": {
            "network_id": "{net1}", "allowed_address_pairs": [
                {"ip_address": "fe80::%x\n/64"}]}}, setup=SUB),
        entry("hard-route-newline", "POST", "/subnets", {"subnet": dict(
            v4, host_routes=[{"destination": "10.1.0.0/16\n", "nexthop": "10.77.0.1"}])},
              setup=NET),
        entry("hard-invalid-utf8", "POST", "/networks", raw=b'{"network": {"name": "\xff"}}'),
        entry("hard-name-newline", "POST", "/networks", {"network": {"name": "a\nb"}}),
        entry("hard-name-tab", "PUT", "/ports/{port1}", {"port": {"name": "a\tb"}}, setup=PORT),
        entry("hard-name-bidi", "POST", "/subnets", {"subnet": dict(v4, name="\u202e")},
              setup=NET),
        entry("hard-name-leading-space", "POST", "/networks", {"network": {"name": " a"}}),
        entry("hard-name-emoji", "POST", "/networks", {"network": {"name": "\U0001f600"}}),
        entry("hard-name-shell-ok", "POST", "/networks", {"network": {
            "name": "a,b;$(reboot) `id` | & > /etc/x"}}, shape="brief"),
        entry("hard-description-hostile-ok", "POST", "/networks", {"network": {
            "description": hostile}}, shape="brief"),
        entry("hard-tags-hostile-ok", "PUT", "/networks/{net1}/tags", {"tags": [hostile]},
              setup=NET, shape="brief"),
        entry("hard-device-id-hostile-ok", "POST", "/ports", {"port": {
            "network_id": "{net1}", "device_id": hostile, "device_owner": hostile}},
              setup=NET, shape="brief"),
        entry("hard-subnetpool-filter", "GET", "/subnets?subnetpool_id=AAA", shape="brief"),
        entry("hard-body-over-limit", "POST", "/networks",
              raw=big[:-1] + " " * (114689 - len(big)) + "}", deviation={
                  "status": 413, "type": "RequestTooLarge", "message": "Request is too large.",
                  "note": "Neutron 29 under uwsgi has no body limit in its paste pipeline; "
                          "trunkline refuses bodies over oslo.middleware's default 114688"}),
    ]


SG = [("security_group", "sg1", {"name": "cat-{run}"})]
SG2 = SG + [("security_group", "sg2", {"name": "cat2-{run}", "stateful": False})]
SG_RULE = SG + [("security_group_rule", "r1", {
    "security_group_id": "{sg1}", "direction": "ingress", "protocol": "tcp",
    "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/24"})]
SG_PORT = SUB + SG + [("port", "port1", {"network_id": "{net1}", "security_groups": ["{sg1}"]})]
SGS = "/security-groups"
SG_PROTOCOLS = (None, "any", "ah", "dccp", "egp", "esp", "gre", "hopopt", "icmp", "igmp", "ip",
                "ipip", "ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt",
                "ipv6-opts", "ipv6-route", "ospf", "pgm", "rsvp", "sctp", "tcp", "udp",
                "udplite", "vrrp")
RULES = "/security-group-rules"


def _security_groups():
    def post(id_, setup=(), **attrs):
        return entry(id_, "POST", SGS, {"security_group": attrs}, setup=setup)

    def put(id_, setup=SG, **attrs):
        return entry(id_, "PUT", SGS + "/{sg1}", {"security_group": attrs}, setup=setup)

    return [
        post("sg-create-name-default", name="default"),
        post("sg-create-name-default-case", name="DeFault"),
        post("sg-create-name-long", name="n" * 256),
        post("sg-create-name-int", name=5),
        post("sg-create-description-long", description="d" * 256),
        post("sg-create-stateful-bad", name="x", stateful="maybe"),
        post("sg-create-unknown-attr", bogus=1),
        post("sg-create-rules", security_group_rules=[]),
        post("sg-create-shared", shared=True),
        entry("sg-create-ok", "POST", SGS, {"security_group": {
            "name": "ok-{run}", "stateful": False}}, shape="brief"),
        entry("sg-create-bulk-default", "POST", SGS, {"security_groups": [
            {"name": "b-{run}"}, {"name": "default"}]}),
        put("sg-update-name-default", name="default"),
        put("sg-update-rules", security_group_rules=[]),
        put("sg-update-stateful-bad", stateful="x"),
        put("sg-update-shared", shared=False),
        put("sg-update-stateful-in-use", setup=SG_PORT, stateful=False),
        put("sg-update-stateful-same-in-use-ok", setup=SG_PORT, stateful=True),
        entry("sg-update-if-match", "PUT", SGS + "/{sg1}", {"security_group": {"name": "y"}},
              headers={"If-Match": "revision_number=99"}, setup=SG),
        entry("sg-delete-in-use", "DELETE", SGS + "/{sg1}", setup=SG_PORT),
        entry("sg-delete-if-match", "DELETE", SGS + "/{sg1}",
              headers={"If-Match": "revision_number=99"}, setup=SG),
        entry("sg-get-missing", "GET", SGS + "/" + MISSING),
        entry("sg-get-bad-uuid", "GET", SGS + "/not-a-uuid"),
        entry("sg-put-missing", "PUT", SGS + "/" + MISSING, {"security_group": {"name": "x"}}),
        entry("sg-delete-missing", "DELETE", SGS + "/" + MISSING),
        entry("sg-list-shared-bad", "GET", SGS + "?shared=maybe"),
        entry("sg-list-stateful-bad", "GET", SGS + "?stateful=maybe"),
        entry("sg-list-unknown-filter", "GET", SGS + "?bogus=1"),
        entry("sg-list-shared-true", "GET", SGS + "?shared=true&name=cat-{run}", setup=SG,
              shape="brief"),
        entry("sg-list-name", "GET", SGS + "?name=cat-{run}", setup=SG, shape="brief"),
        entry("sg-tags-ok", "PUT", SGS + "/{sg1}/tags", {"tags": ["a", "b"]}, setup=SG,
              shape=True),
        entry("sg-tags-too-long", "PUT", SGS + "/{sg1}/tags", {"tags": ["x" * 256]}, setup=SG),
    ]


def _security_group_rules():
    def post(id_, setup=SG, **attrs):
        return entry(id_, "POST", RULES, {"security_group_rule": dict(
            {"security_group_id": "{sg1}", "direction": "ingress"}, **attrs)}, setup=setup)

    def tcp22(**attrs):
        return dict({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
                     "remote_ip_prefix": "10.0.0.0/24"}, **attrs)

    def bulk(id_, *changes, setup=SG, shape=False):
        base = {"security_group_id": "{sg1}", "direction": "egress", "protocol": "tcp"}
        return entry(id_, "POST", RULES, {"security_group_rules": [
            dict(base, **change) for change in changes]}, setup=setup, shape=shape)

    def exists(id_, first, again):
        setup = SG + [("security_group_rule", "r1", dict(
            {"security_group_id": "{sg1}", "direction": "ingress"}, **first))]
        return post(id_, setup=setup, **again)

    return [
        entry("rule-no-direction", "POST", RULES, {"security_group_rule": {
            "security_group_id": "{sg1}"}}, setup=SG),
        entry("rule-no-group", "POST", RULES, {"security_group_rule": {"direction": "egress"}}),
        post("rule-direction-bad", direction="sideways"),
        post("rule-ethertype-bad", ethertype="IPv5"),
        post("rule-ethertype-int", ethertype=4),
        post("rule-protocol-bad", protocol="bogus"),
        post("rule-protocol-256", protocol=256),
        post("rule-protocol-negative", protocol="-1"),
        entry("rule-protocol-list", "POST", RULES, {"security_group_rule": {
            "security_group_id": "{sg1}", "direction": "ingress", "protocol": ["tcp"]}},
              setup=SG, deviation=_bug(
                  400, "SecurityGroupRuleInvalidProtocol", "Security group rule protocol "
                  "['tcp'] not supported. Only protocol values %s and integer representations "
                  "[0 to 255] are supported." % (SG_PROTOCOLS,))),
        entry("rule-list-protocol-bad", "GET", RULES + "?protocol=bogus"),
        entry("rule-list-prefix-bad", "GET", RULES + "?remote_ip_prefix=abc"),
        post("rule-port-bad", protocol="tcp", port_range_min="abc", port_range_max=22),
        post("rule-port-too-big", protocol="tcp", port_range_min=22, port_range_max=70000),
        post("rule-port-negative", protocol="tcp", port_range_min=-5, port_range_max=22),
        post("rule-ports-no-protocol", port_range_min=22, port_range_max=22),
        post("rule-port-min-gt-max", protocol="tcp", port_range_min=30, port_range_max=20),
        post("rule-port-zero", protocol="udp", port_range_min=0, port_range_max=10),
        post("rule-port-only-min", protocol="tcp", port_range_min=22),
        post("rule-icmp-type-big", protocol="icmp", port_range_min=300),
        post("rule-icmp-code-big", protocol="icmp", port_range_min=8, port_range_max=256),
        post("rule-icmp-missing-type", protocol="icmp", port_range_max=0),
        post("rule-ports-on-gre", protocol="gre", port_range_min=1, port_range_max=2),
        post("rule-ports-on-number", protocol="47", port_range_min=1, port_range_max=2),
        post("rule-prefix-bad", remote_ip_prefix="10.0.0.0/33"),
        post("rule-prefix-garbage", remote_ip_prefix="abc"),
        post("rule-prefix-v6-on-v4", remote_ip_prefix="2001:db8::/64"),
        post("rule-prefix-bare-v4-on-v6", ethertype="IPv6", remote_ip_prefix="10.0.0.1"),
        post("rule-proto-v6-on-v4", protocol="ipv6-icmp"),
        post("rule-proto-58-on-v4", protocol="58"),
        post("rule-remote-both", remote_ip_prefix="10.0.0.0/8", remote_group_id="{sg1}"),
        post("rule-remote-group-missing", remote_group_id=MISSING),
        post("rule-remote-group-garbage", remote_group_id="abc"),
        post("rule-group-missing", security_group_id=MISSING),
        post("rule-group-garbage", security_group_id="abc"),
        post("rule-group-too-long", security_group_id="x" * 37),
        post("rule-description-long", description="d" * 256),
        post("rule-name", name="x"),
        entry("rule-ok-normalized", "POST", RULES, {"security_group_rule": {
                "security_group_id": "{sg1}", "direction": "ingress",
                "remote_ip_prefix": "10.0.0.34/24", "protocol": "TCP",
                "port_range_min": "80", "port_range_max": 81}}, setup=SG, shape="brief"),
        exists("rule-exists", tcp22(), tcp22()),
        exists("rule-exists-proto-number", tcp22(), tcp22(protocol="6")),
        exists("rule-exists-proto-case", tcp22(), tcp22(protocol="TCP")),
        exists("rule-exists-bare-ip", {"remote_ip_prefix": "10.0.0.1/32"},
               {"remote_ip_prefix": "10.0.0.1"}),
        exists("rule-exists-any-prefix", {"protocol": "tcp"},
               {"protocol": "tcp", "remote_ip_prefix": "0.0.0.0/0"}),
        exists("rule-exists-any-v6-prefix", {"ethertype": "IPv6", "protocol": "udp"},
               {"ethertype": "IPv6", "protocol": "udp", "remote_ip_prefix": "::/0"}),
        exists("rule-exists-full-range", {"protocol": "udp"},
               {"protocol": "udp", "port_range_min": 1, "port_range_max": 65535}),
        exists("rule-exists-icmpv6-legacy", {"ethertype": "IPv6", "protocol": "ipv6-icmp"},
               {"ethertype": "IPv6", "protocol": "icmp"}),
        exists("rule-exists-ethertype-case", {"protocol": "icmp"},
               {"protocol": "icmp", "ethertype": "ipv4"}),
        bulk("rule-bulk-duplicate", {}, {"protocol": "6"}),
        bulk("rule-bulk-two-groups", {}, {"security_group_id": "{sg2}"}, setup=SG2),
        bulk("rule-bulk-two-projects", {}, {"protocol": "udp", "project_id": "other-{run}"}),
        bulk("rule-bulk-one-bad", {}, {"protocol": "bogus"}),
        bulk("rule-bulk-ok", {"direction": "ingress"},
             {"direction": "ingress", "protocol": "udp"}, shape="brief"),
        entry("rule-put-direction", "PUT", RULES + "/{r1}",
              {"security_group_rule": {"direction": "egress"}}, setup=SG_RULE),
        entry("rule-get-missing", "GET", RULES + "/" + MISSING),
        entry("rule-delete-missing", "DELETE", RULES + "/" + MISSING),
        entry("rule-delete-ok", "DELETE", RULES + "/{r1}", setup=SG_RULE, shape=True),
        entry("rule-list-unknown-filter", "GET", RULES + "?bogus=1"),
        entry("rule-list-port-bad", "GET", RULES + "?port_range_min=abc"),
        entry("rule-list-default-bad", "GET", RULES + "?belongs_to_default_sg=maybe"),
        entry("rule-list-group", "GET", RULES + "?security_group_id={sg1}&direction=ingress",
              setup=SG_RULE, shape="brief"),
        entry("rule-tags", "GET", RULES + "/{r1}/tags", setup=SG_RULE),
        entry("default-rule-no-flags", "POST", "/default-security-group-rules", {
            "default_security_group_rule": {"direction": "ingress"}}),
        entry("default-rule-direction-bad", "POST", "/default-security-group-rules", {
            "default_security_group_rule": {"direction": "up", "used_in_default_sg": True,
                                            "used_in_non_default_sg": True}}),
        entry("default-rule-protocol-bad", "POST", "/default-security-group-rules", {
            "default_security_group_rule": {
                "direction": "ingress", "protocol": "bogus", "used_in_default_sg": True,
                "used_in_non_default_sg": True}}),
        entry("default-rule-ports-no-protocol", "POST", "/default-security-group-rules", {
            "default_security_group_rule": {
                "direction": "ingress", "port_range_min": 5, "port_range_max": 6,
                "used_in_default_sg": False, "used_in_non_default_sg": False}}),
        entry("default-rule-get-missing", "GET", "/default-security-group-rules/" + MISSING),
    ]


def _port_security_groups():
    def post(id_, setup=SUB + SG, **attrs):
        return entry(id_, "POST", "/ports", {"port": dict({"network_id": "{net1}"}, **attrs)},
                     setup=setup)

    def put(id_, setup=SG_PORT, **attrs):
        return entry(id_, "PUT", "/ports/{port1}", {"port": attrs}, setup=setup)

    return [
        post("port-sg-missing", security_groups=[MISSING]),
        post("port-sg-not-list", security_groups="{sg1}"),
        post("port-sg-bad-uuid", security_groups=["abc"]),
        post("port-sg-duplicate", security_groups=["{sg1}", "{sg1}"]),
        post("port-sg-port-security-off", port_security_enabled=False,
             security_groups=["{sg1}"]),
        post("port-sg-mixed-stateful", setup=SUB + SG2, security_groups=["{sg1}", "{sg2}"]),
        entry("port-sg-null-ok", "POST", "/ports", {"port": {
                "network_id": "{net1}", "security_groups": None}}, setup=SUB, shape="brief"),
        put("port-put-sg-missing", security_groups=[MISSING]),
        put("port-put-port-security-off", port_security_enabled=False),
        put("port-put-port-security-off-with-sg", port_security_enabled=False,
            security_groups=["{sg1}"]),
        entry("port-put-port-security-off-clear-ok", "PUT", "/ports/{port1}", {"port": {
                "port_security_enabled": False, "security_groups": []}}, setup=SG_PORT,
            shape="brief"),
        put("port-put-sg-mixed-stateful", setup=SG_PORT + SG2[1:],
            security_groups=["{sg1}", "{sg2}"]),
        entry("port-list-sg-filter", "GET", "/ports?security_groups={sg1}", setup=SG_PORT,
              shape="brief"),
    ]


def _quotas():
    """Limits of a project of the run's own (``q{run}``): bad PUT bodies, the usage check, a
    create over each kind of quota. No entry depends on how many template rules a new group
    gets (the recorded peer has none)."""
    path = "/quotas/q{run}"
    owned = {"project_id": "q{run}"}
    net = [("network", "net1", dict(owned, name="cat-{run}"))]
    sub = net + [("subnet", "sub1", dict(owned, network_id="{net1}", cidr="10.30.0.0/24",
                                         ip_version=4))]
    port = sub + [("port", "port1", dict(owned, network_id="{net1}"))]

    def limit(**limits):
        return [("put", path, {"quota": limits})]

    def put(id_, quota, setup=(), deviation=None):
        return entry(id_, "PUT", path, {"quota": quota}, setup=setup, deviation=deviation)

    return [
        put("quota-put-negative", {"port": -2}),
        put("quota-put-too-large", {"port": 2147483648}),
        put("quota-put-not-integer", {"port": "abc"}),
        put("quota-put-float-text", {"port": "1.5"}),
        put("quota-put-null", {"port": None}),
        put("quota-put-list", {"port": [1]}),
        put("quota-put-first-bad-in-resource-order", {"port": -5, "network": "x"}),
        put("quota-put-unknown", {"port": 1, "foo": 2, "bar": 1}),
        put("quota-put-project-id", {"project_id": "x"}),
        entry("quota-put-no-quota", "PUT", path, {"port": 3}, deviation=_bug(
            400, "HTTPBadRequest", "Unable to find 'quota' in request body")),
        entry("quota-put-quota-not-object", "PUT", path, {"quota": "abc"}, deviation=_bug(
            400, "HTTPBadRequest", "Object 'quota' contains invalid data")),
        entry("quota-put-converted-ok", "PUT", path, {"quota": {"port": "5", "subnet": 1.5}},
              shape="brief"),
        put("quota-put-below-usage", {"subnet": 5, "network": 0}, setup=net),
        put("quota-put-below-usage-check-limit", {"network": 0, "check_limit": True},
            setup=net),
        entry("quota-put-below-usage-forced-ok", "PUT", path, {"quota": {
            "network": 0, "force": True}}, setup=net, shape="brief"),
        entry("quota-post", "POST", "/quotas", {"quota": {"port": 1}}),
        entry("quota-delete-none", "DELETE", path),
        entry("quota-unknown-subresource", "GET", path + "/bogus"),
        entry("quota-over-network", "POST", "/networks", {"network": owned},
              setup=limit(network=0)),
        entry("quota-over-subnet", "POST", "/subnets", {"subnet": dict(
            owned, network_id="{net1}", cidr="10.30.1.0/24", ip_version=4)},
            setup=sub + limit(subnet=1)),
        entry("quota-over-port", "POST", "/ports", {"port": dict(owned, network_id="{net1}")},
              setup=port + limit(port=1)),
        entry("quota-over-port-bulk", "POST", "/ports", {"ports": [
            dict(owned, network_id="{net1}"), dict(owned, network_id="{net1}")]},
            setup=port + limit(port=2)),
        entry("quota-over-trunk", "POST", "/trunks", {"trunk": dict(owned, port_id="{port1}")},
              setup=port + limit(trunk=0)),
        entry("quota-over-security-group", "POST", "/security-groups", {
            "security_group": dict(owned, name="sg-{run}")}, setup=limit(security_group=0)),
        entry("quota-over-security-group-rule", "POST", "/security-group-rules", {
            "security_group_rule": dict(owned, security_group_id="{sg1}", direction="ingress",
                                        protocol="tcp")},
            setup=[("security_group", "sg1", dict(owned, name="sg-{run}")),
                   ("put", path, {"quota": {"security_group_rule": 0, "force": True}})]),
    ]


CATALOGUE = (_bodies() + _types() + _subnets() + _ports() + _missing() + _in_use() +
             _listing() + _if_match() + _tags() + _urls() + _trunk_create() + _trunk_actions() +
             _dhcp_opts() + _hardening() + _security_groups() + _security_group_rules() +
             _port_security_groups() + _quotas())


# -- running


class Runner:
    """Plays catalogue entries against one server and cleans up what they created."""

    def __init__(self, url):
        self.base = url.rstrip("/") + "/v2.0"
        self.http = requests.Session()

    def call(self, method, path, body=None, raw=None, headers=None):
        kw = {"headers": dict(headers or {})}
        if raw is not None:
            kw["data"] = raw if isinstance(raw, bytes) else raw.encode()
            kw["headers"].setdefault("Content-Type", "application/json")
        elif body is not None:
            kw["json"] = body
        r = self.http.request(method, self.base + path, timeout=60, **kw)
        try:
            data = r.json() if r.content else None
        except ValueError:
            data = r.text
        return r.status_code, data

    def play(self, item):
        """Set up, send the entry's request, clean up; return the normalised answer."""
        ids = {"run": uuid.uuid4().hex[:10]}
        created = []
        try:
            for step in item["setup"]:
                self._step(step, ids, created)
            status, data = self.call(item["method"], fill(item["path"], ids),
                                     fill(item["body"], ids),
                                     fill(item["raw"], ids), fill(item["headers"], ids))
            created += _created(item, status, data)
            return answer(item, status, data, ids)
        finally:
            self._cleanup(created)

    def _step(self, step, ids, created):
        kind = step[0]
        if kind in COLLECTIONS:
            _, name, attrs = step
            status, data = self.call("POST", "/" + COLLECTIONS[kind], {kind: fill(attrs, ids)})
            if status != 201:
                raise RuntimeError("setup %s %s failed: %s %s" % (kind, name, status, data))
            ids[name] = data[kind]["id"]
            created.append((COLLECTIONS[kind], ids[name]))
            return
        _, path, body = step
        status, data = self.call(kind.upper(), fill(path, ids), fill(body, ids))
        if status >= 300:
            raise RuntimeError("setup %s %s failed: %s %s" % (kind, path, status, data))

    def _cleanup(self, created):
        for collection, id_ in sorted(created, key=lambda c: CLEANUP_ORDER.index(c[0])):
            if collection == "trunks":
                self.call("PUT", "/trunks/" + id_, {"trunk": {"admin_state_up": True}})
            self.call("DELETE", "/%s/%s" % (collection, id_))


def fill(obj, ids):
    """Replace ``{name}`` placeholders by ids, anywhere in a JSON-like value."""
    if isinstance(obj, str):
        return PLACEHOLDER.sub(lambda m: ids.get(m.group(1), m.group(0)), obj)
    if isinstance(obj, list):
        return [fill(x, ids) for x in obj]
    if isinstance(obj, dict):
        return {fill(k, ids): fill(v, ids) for k, v in obj.items()}
    return obj


def normalise(text, ids):
    for name, value in sorted(ids.items(), key=lambda kv: -len(kv[1])):
        text = text.replace(value, "{%s}" % name)
    return text


def _created(item, status, data):
    """Resources the entry's own request created (a successful POST)."""
    if item["method"] != "POST" or status != 201 or not isinstance(data, dict):
        return []
    collection = item["path"].strip("/").split("?")[0]
    member = next((m for m, c in COLLECTIONS.items() if c == collection), None)
    if member in data:
        return [(collection, data[member]["id"])]
    return [(collection, x["id"]) for x in data.get(member + "s" if member else collection, [])]


def answer(item, status, data, ids):
    result = {"status": status}
    if isinstance(data, dict) and "NeutronError" in data and not item["shape"]:
        err = data["NeutronError"]
        result["type"] = err.get("type")
        result["message"] = normalise(err.get("message") or "", ids)
    else:
        result["shape"] = shape(data, brief=item["shape"] is not True)
    return result


def shape(data, brief=False):
    """What a success looks like without its values: keys of members (unless ``brief``),
    list lengths, pagination link relations."""
    if not isinstance(data, dict):
        return data if data is None else type(data).__name__
    out = {}
    for key, value in sorted(data.items()):
        if key.endswith("_links"):
            out[key] = [link["rel"] for link in value]
        elif isinstance(value, list):
            out[key] = {"count": len(value)}
            if value and isinstance(value[0], dict) and not brief:
                out[key]["keys"] = sorted(value[0])
        elif isinstance(value, dict):
            out[key] = "dict" if brief else sorted(value)
        else:
            out[key] = type(value).__name__
    return out


def expected(recorded, item):
    """What trunkline must answer: Neutron's recording, or the deviation we keep instead."""
    return item["deviation"] or recorded


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--write", action="store_true", help="write neutron_answers.json")
    parser.add_argument("--only", action="append",
                        help="play only entries whose id contains this (repeatable)")
    args = parser.parse_args(argv)
    runner = Runner(args.url)
    items = [i for i in CATALOGUE if not args.only or any(o in i["id"] for o in args.only)]
    answers = {}
    for item in items:
        answers[item["id"]] = runner.play(item)
        print(item["id"], json.dumps(answers[item["id"]]), flush=True)
    if args.write:
        write(args.url, items, answers, merge=bool(args.only))
    return 0


def write(url, items, answers, merge):
    """Store the answers (merged into the existing recording when only some were played)."""
    entries = {}
    if merge and os.path.exists(ANSWERS):
        with open(ANSWERS) as f:
            entries = json.load(f)["entries"]
    for item in items:
        entries[item["id"]] = dict(answers[item["id"]])
        if item["deviation"]:
            entries[item["id"]]["deviation"] = item["deviation"]
    doc = {"source": url, "entries": {i["id"]: entries[i["id"]] for i in CATALOGUE
                                      if i["id"] in entries}}
    with open(ANSWERS, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
