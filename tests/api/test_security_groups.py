"""Security groups as Neutron 29 serves them (neutron's securitygroups_db, ML2's port security
processing, tempest's and neutron-tempest-plugin's security group tests): each project's
default group created lazily with its four template rules, two egress rules for any other
group, ports' ``security_groups``, rule validation and duplicates, bulk rules all or nothing,
the rule templates, and the extensions built on them."""
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers.api import Client, error_type, unlimited

MISSING = "9b3ad9a4-5b1e-4c7a-8d55-0a6c2f1e9d01"
RULE_KEYS = {"id", "project_id", "tenant_id", "security_group_id", "direction", "ethertype",
             "protocol", "port_range_min", "port_range_max", "remote_ip_prefix",
             "remote_group_id", "remote_address_group_id", "normalized_cidr",
             "belongs_to_default_sg", "description",
             "revision_number", "created_at", "updated_at"}
SG_KEYS = {"id", "project_id", "tenant_id", "name", "description", "stateful", "shared",
           "security_group_rules", "tags", "revision_number", "created_at", "updated_at"}


@pytest.fixture(scope="module", autouse=True)
def no_group_quotas(client):
    """The module makes more groups and rules than Neutron's default quotas allow a project."""
    unlimited(client, "security_group", "security_group_rule")


def project():
    return "sg-" + uuid.uuid4().hex[:12]


def groups_of(client, project_id):
    status, body = client.get("/security-groups", params={"project_id": project_id})
    assert status == 200, body
    return body["security_groups"]


def new_group(client, **attrs):
    status, body = client.post("/security-groups", {"security_group": dict(
        {"name": "g-" + uuid.uuid4().hex[:6]}, **attrs)})
    assert status == 201, body
    return body["security_group"]


def rule(client, group, **attrs):
    return client.post("/security-group-rules", {"security_group_rule": dict(
        {"security_group_id": group["id"], "direction": "ingress"}, **attrs)})


def shape_of(rules):
    return sorted((r["direction"], r["ethertype"], r["remote_group_id"] is not None)
                  for r in rules)


@pytest.fixture(scope="module")
def net(client):
    net = client.create("network", name="sg-net")
    client.create("subnet", network_id=net["id"], cidr="10.77.0.0/24", ip_version=4)
    return net


def test_default_group_is_created_once_on_the_first_list(client):
    proj = project()
    first = groups_of(client, proj)
    assert len(first) == 1
    default = first[0]
    assert set(default) == SG_KEYS
    assert default["name"] == "default" and default["description"] == "Default security group"
    assert default["project_id"] == proj and default["stateful"] is True
    assert default["shared"] is False and default["revision_number"] == 0
    rules = default["security_group_rules"]
    assert shape_of(rules) == [("egress", "IPv4", False), ("egress", "IPv6", False),
                               ("ingress", "IPv4", True), ("ingress", "IPv6", True)]
    assert all(r["remote_group_id"] in (None, default["id"]) for r in rules)
    assert all(r["belongs_to_default_sg"] is True and r["project_id"] == proj for r in rules)
    assert groups_of(client, proj) == first
    status, body = client.get("/security-group-rules", params={"project_id": proj})
    assert status == 200 and len(body["security_group_rules"]) == 4


def test_concurrent_first_lists_make_one_default_group(server):
    """Eight lists at once for a project without a default group: one group is created, and
    every list shows it (writers are serialised; the check runs inside the write)."""
    proj = project()

    def listed(_):
        return [g["id"] for g in groups_of(Client(server.url), proj)]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(listed, range(8)))
    assert all(len(a) == 1 for a in answers) and len({a[0] for a in answers}) == 1


def test_default_group_on_a_projects_first_network_and_port(client):
    proj = project()
    net = client.create("network", name="n", project_id=proj)
    status, body = client.get("/security-groups", params={"name": "default"})
    assert proj in {g["project_id"] for g in body["security_groups"]}
    port = client.create("port", network_id=net["id"], project_id=proj)
    default = [g for g in body["security_groups"] if g["project_id"] == proj][0]
    assert port["security_groups"] == [default["id"]]
    dhcp = client.create("port", network_id=net["id"], project_id=proj,
                         device_owner="network:dhcp")
    assert dhcp["security_groups"] == []
    insecure = client.create("port", network_id=net["id"], project_id=proj,
                             port_security_enabled=False)
    assert insecure["security_groups"] == []


def test_create_answers_the_two_egress_rules(client):
    group = new_group(client, description="web")
    assert set(group) == SG_KEYS and group["revision_number"] == 0
    assert shape_of(group["security_group_rules"]) == [("egress", "IPv4", False),
                                                        ("egress", "IPv6", False)]
    assert all(set(r) == RULE_KEYS and r["belongs_to_default_sg"] is False
               for r in group["security_group_rules"])
    status, shown = client.get("/security-groups/" + group["id"])
    assert status == 200 and shown["security_group"] == group


@pytest.mark.parametrize("name", ["default", "Default", "DEFAULT"])
def test_default_cannot_be_created_or_renamed(client, name):
    status, body = client.post("/security-groups", {"security_group": {"name": name}})
    assert status == 409 and error_type(body) == "SecurityGroupDefaultAlreadyExists"
    group = new_group(client)
    status, body = client.put("/security-groups/" + group["id"],
                              {"security_group": {"name": name}})
    assert status == 409 and error_type(body) == "SecurityGroupDefaultAlreadyExists"


def test_default_group_name_stays_but_admin_may_delete_it(client):
    proj = project()
    default = groups_of(client, proj)[0]
    status, body = client.put("/security-groups/" + default["id"],
                              {"security_group": {"name": "renamed"}})
    assert status == 409 and error_type(body) == "SecurityGroupCannotUpdateDefault"
    status, body = client.put("/security-groups/" + default["id"],
                              {"security_group": {"description": "mine"}})
    assert status == 200 and body["security_group"]["revision_number"] == 1
    assert client.delete("/security-groups/" + default["id"])[0] == 204
    again = groups_of(client, proj)
    assert len(again) == 1 and again[0]["id"] != default["id"]


def test_in_use_group_and_statefulness(client, net):
    group = new_group(client)
    stateless = new_group(client, stateful=False)
    assert stateless["stateful"] is False
    port = client.create("port", network_id=net["id"], security_groups=[group["id"]])
    assert port["security_groups"] == [group["id"]]
    status, body = client.delete("/security-groups/" + group["id"])
    assert status == 409 and error_type(body) == "SecurityGroupInUse"
    assert body["NeutronError"]["message"] == "Security Group %s in use." % group["id"]
    status, body = client.put("/security-groups/" + group["id"],
                              {"security_group": {"stateful": False}})
    assert status == 409 and error_type(body) == "SecurityGroupInUse"
    assert client.put("/security-groups/" + group["id"],
                      {"security_group": {"stateful": True}})[0] == 200
    status, body = client.put("/ports/" + port["id"], {"port": {
        "security_groups": [group["id"], stateless["id"]]}})
    assert status == 409 and error_type(body) == "SecurityGroupConflict"
    assert client.get("/ports/" + port["id"])[1]["port"]["security_groups"] == [group["id"]]
    status, body = client.put("/ports/" + port["id"], {"port": {"security_groups": []}})
    assert status == 200 and body["port"]["security_groups"] == []
    assert client.put("/security-groups/" + group["id"],
                      {"security_group": {"stateful": False}})[0] == 200
    assert client.delete("/security-groups/" + group["id"])[0] == 204


def test_ports_security_groups_filter_and_fields(client, net):
    a, b = new_group(client), new_group(client)
    pa = client.create("port", network_id=net["id"], security_groups=[a["id"]])
    pab = client.create("port", network_id=net["id"], security_groups=[a["id"], b["id"]])
    status, body = client.get("/ports", params={"security_groups": b["id"],
                                                "fields": ["id", "security_groups"]})
    assert status == 200
    assert body["ports"] == [{"id": pab["id"], "security_groups": sorted([a["id"], b["id"]])}]
    status, body = client.get("/ports", params={"security_groups": a["id"], "fields": "id"})
    assert {p["id"] for p in body["ports"]} == {pa["id"], pab["id"]}
    status, body = client.post("/ports", {"port": {"network_id": net["id"],
                                                   "security_groups": [MISSING]}})
    assert status == 404 and error_type(body) == "SecurityGroupNotFound"


def test_port_security_and_groups(client, net):
    group = new_group(client)
    port = client.create("port", network_id=net["id"], security_groups=[group["id"]])
    status, body = client.put("/ports/" + port["id"], {"port": {"port_security_enabled": False}})
    assert status == 409 and error_type(body) == "PortSecurityPortHasSecurityGroup"
    status, body = client.put("/ports/" + port["id"], {"port": {
        "port_security_enabled": False, "security_groups": [group["id"]]}})
    assert status == 400 and error_type(body) == "PortSecurityAndIPRequiredForSecurityGroups"
    shown = client.get("/ports/" + port["id"])[1]["port"]
    assert shown["port_security_enabled"] is True and shown["security_groups"] == [group["id"]]
    status, body = client.put("/ports/" + port["id"], {"port": {
        "port_security_enabled": False, "security_groups": None}})
    assert status == 200 and body["port"]["security_groups"] == []


def test_rule_attributes_and_normalized_cidr(client):
    group = new_group(client)
    status, body = rule(client, group, protocol="TCP", port_range_min="80", port_range_max=81,
                        remote_ip_prefix="10.0.0.34/24", ethertype="ipv4", description="web")
    assert status == 201, body
    r = body["security_group_rule"]
    assert set(r) == RULE_KEYS
    assert (r["protocol"], r["port_range_min"], r["port_range_max"]) == ("tcp", 80, 81)
    assert r["remote_ip_prefix"] == "10.0.0.34/24" and r["normalized_cidr"] == "10.0.0.0/24"
    assert r["ethertype"] == "IPv4" and r["revision_number"] == 0
    status, body = rule(client, group, remote_ip_prefix="10.9.9.9")
    assert body["security_group_rule"]["remote_ip_prefix"] == "10.9.9.9/32"
    status, body = rule(client, group, protocol="udp", port_range_min=1, port_range_max=65535)
    assert body["security_group_rule"]["port_range_min"] is None
    status, body = rule(client, group, ethertype="IPv6", protocol="icmp")
    assert body["security_group_rule"]["protocol"] == "ipv6-icmp"
    status, body = client.get("/security-group-rules", params={
        "normalized_cidr": "10.0.0.0/24", "fields": ["id"]})
    assert body["security_group_rules"] == [{"id": r["id"]}]
    shown = client.get("/security-groups/" + group["id"])[1]["security_group"]
    assert shown["revision_number"] == 4 and len(shown["security_group_rules"]) == 6


@pytest.mark.parametrize("first,again", [
    ({"protocol": "tcp"}, {"protocol": "6"}),
    ({"protocol": "tcp", "remote_ip_prefix": "0.0.0.0/0"}, {"protocol": "tcp"}),
    ({"ethertype": "IPv6", "protocol": "tcp"}, {"ethertype": "IPv6", "protocol": "tcp",
                                                "remote_ip_prefix": "::/0"}),
    ({"remote_ip_prefix": "10.1.1.1"}, {"remote_ip_prefix": "10.1.1.1/32"}),
])
def test_duplicate_rules_name_the_existing_one(client, first, again):
    group = new_group(client)
    status, body = rule(client, group, **first)
    assert status == 201, body
    status, dup = rule(client, group, **again)
    assert status == 409 and error_type(dup) == "SecurityGroupRuleExists"
    assert dup["NeutronError"]["message"] == (
        "Security group rule already exists. Rule id is %s." % body["security_group_rule"]["id"])


def test_the_template_egress_rule_is_a_duplicate(client):
    group = new_group(client)
    status, body = client.post("/security-group-rules", {"security_group_rule": {
        "security_group_id": group["id"], "direction": "egress", "ethertype": "IPv4"}})
    assert status == 409 and error_type(body) == "SecurityGroupRuleExists"


def test_bulk_rules_are_all_or_nothing(client):
    group = new_group(client)
    ok = {"security_group_id": group["id"], "direction": "ingress", "protocol": "tcp"}
    for bad in (dict(ok, protocol="6"), dict(ok, protocol="bogus"),
                dict(ok, remote_group_id=MISSING)):
        status, body = client.post("/security-group-rules", {"security_group_rules": [
            {"security_group_rule": ok}, {"security_group_rule": bad}]})
        assert 400 <= status < 500, body
    shown = client.get("/security-groups/" + group["id"])[1]["security_group"]
    assert len(shown["security_group_rules"]) == 2 and shown["revision_number"] == 0
    status, body = client.post("/security-group-rules", {"security_group_rules": [
        ok, dict(ok, protocol="udp")]})
    assert status == 201 and len(body["security_group_rules"]) == 2


def test_remote_group_rules_go_with_the_remote_group(client):
    group, remote = new_group(client), new_group(client)
    status, body = rule(client, group, remote_group_id=remote["id"])
    assert status == 201
    assert client.delete("/security-groups/" + remote["id"])[0] == 204
    status, _ = client.get("/security-group-rules/" + body["security_group_rule"]["id"])
    assert status == 404


def test_rule_list_filters_sort_and_pages(client):
    group = new_group(client)
    for port in (22, 80, 443):
        assert rule(client, group, protocol="tcp", port_range_min=port,
                    port_range_max=port)[0] == 201
    q = {"security_group_id": group["id"], "direction": "ingress",
         "sort_key": "port_range_min", "sort_dir": "desc", "limit": 2}
    status, body = client.get("/security-group-rules", params=q)
    assert [r["port_range_min"] for r in body["security_group_rules"]] == [443, 80]
    assert [link["rel"] for link in body["security_group_rules_links"]] == ["next", "previous"]
    assert "/v2.0/security-group-rules?" in body["security_group_rules_links"][0]["href"]
    status, body = client.get("/security-group-rules", params={
        "security_group_id": group["id"], "belongs_to_default_sg": "false", "fields": "id"})
    assert len(body["security_group_rules"]) == 5
    status, body = client.get("/security-groups", params={"id": group["id"],
                                                          "shared": "true"})
    assert body["security_groups"] == []


def test_tags_and_if_match(client):
    group = new_group(client)
    status, body = client.put("/security-groups/%s/tags" % group["id"], {"tags": ["b", "a"]})
    assert status == 200 and body["tags"] == ["a", "b"]
    status, body = client.get("/security-groups", params={"tags": "a", "fields": "id"})
    assert {"id": group["id"]} in body["security_groups"]
    status, body = client.put("/security-groups/" + group["id"], {"security_group": {
        "name": "x"}}, headers={"If-Match": "revision_number=0"})
    assert status == 412
    status, body = client.put("/security-groups/" + group["id"], {"security_group": {
        "name": "x"}}, headers={"If-Match": "revision_number=1"})
    assert status == 200 and body["security_group"]["revision_number"] == 2


def test_default_rule_templates(client):
    status, body = client.get("/default-security-group-rules")
    assert status == 200
    templates = body["default_security_group_rules"]
    assert sorted((t["direction"], t["ethertype"], t["remote_group_id"], t["used_in_default_sg"],
                   t["used_in_non_default_sg"]) for t in templates) == [
        ("egress", "IPv4", None, True, True), ("egress", "IPv6", None, True, True),
        ("ingress", "IPv4", "PARENT", True, False), ("ingress", "IPv6", "PARENT", True, False)]
    # as Neutron's migration seeds them; every template shows remote_address_group_id
    assert {t["direction"]: t["description"] for t in templates} == {
        "egress": "Legacy default SG rule for egress traffic",
        "ingress": "Legacy default SG rule for ingress traffic"}
    assert all(t["remote_address_group_id"] is None for t in templates)
    status, body = client.post("/default-security-group-rules", {"default_security_group_rule": {
        "direction": "ingress", "remote_address_group_id": "1b4c0c3e-8d2a-4b5e-9f10-7a0e6c1d2bff",
        "used_in_default_sg": False, "used_in_non_default_sg": True}})
    assert status == 404 and error_type(body) == "AddressGroupNotFound"
    status, body = client.post("/default-security-group-rules", {"default_security_group_rule": {
        "direction": "egress", "used_in_default_sg": True, "used_in_non_default_sg": False}})
    assert status == 409 and error_type(body) == "DefaultSecurityGroupRuleExists"
    status, body = client.post("/default-security-group-rules", {"default_security_group_rule": {
        "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
        "used_in_default_sg": False, "used_in_non_default_sg": True}})
    assert status == 201, body
    template = body["default_security_group_rule"]
    try:
        group = new_group(client)
        assert len(group["security_group_rules"]) == 3
        assert len(groups_of(client, project())[0]["security_group_rules"]) == 4
    finally:
        assert client.delete("/default-security-group-rules/" + template["id"])[0] == 204
    assert len(new_group(client)["security_group_rules"]) == 2


def test_extensions_are_advertised(client):
    status, body = client.get("/extensions")
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"security-group", "stateful-security-group", "security-groups-normalized-cidr",
            "security-groups-rules-belongs-to-default-sg", "security-groups-default-rules",
            "port-security-groups-filtering", "security-groups-shared-filtering",
            "security-groups-remote-address-group"} <= aliases
    # the rules' field is advertised (as ML2 always does), address groups themselves are not
    assert not {"address-group", "rbac-security-groups"} & aliases


def test_remote_address_group(client):
    group = new_group(client)
    assert all(r["remote_address_group_id"] is None for r in group["security_group_rules"])
    rule = {"security_group_id": group["id"], "direction": "ingress",
            "remote_address_group_id": "1b4c0c3e-8d2a-4b5e-9f10-7a0e6c1d2bff"}
    status, body = client.post("/security-group-rules", {"security_group_rule": rule})
    assert status == 404 and error_type(body) == "AddressGroupNotFound"
    assert body["NeutronError"]["message"] == (
        "Address group 1b4c0c3e-8d2a-4b5e-9f10-7a0e6c1d2bff could not be found.")
    status, body = client.post("/security-group-rules", {"security_group_rule": dict(
        rule, remote_ip_prefix="10.0.0.0/8")})
    assert status == 400 and error_type(body) == "SecurityGroupMultipleRemoteEntites"
    status, body = client.get("/security-group-rules?remote_address_group_id=x")
    assert status == 200 and body["security_group_rules"] == []


def test_admin_adds_rules_to_another_projects_group(client):
    """An admin may add a rule to any project's group; as in Neutron 29 (recorded from it), the
    rule belongs to the project the request names, else the admin's own, not the group's."""
    proj = project()
    default = groups_of(client, proj)[0]
    status, body = rule(client, default, protocol="tcp", port_range_min=22, port_range_max=22)
    assert status == 201, body
    own = body["security_group_rule"]
    assert own["project_id"] != proj and own["belongs_to_default_sg"] is True
    status, body = rule(client, default, protocol="udp", project_id=proj)
    assert status == 201 and body["security_group_rule"]["project_id"] == proj
    shown = client.get("/security-groups/" + default["id"])[1]["security_group"]
    assert own["id"] in {r["id"] for r in shown["security_group_rules"]}
