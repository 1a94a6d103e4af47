"""The server answers the version document and creates a network on each back end."""


def test_versions(client, server):
    import requests
    r = requests.get(server.url + "/")
    assert r.status_code == 200
    assert r.json()["versions"][0]["id"] == "v2.0"


def test_network_create_and_show(client):
    net = client.create("network", name="smoke")
    status, body = client.get("/networks/" + net["id"])
    assert status == 200
    assert body["network"]["name"] == "smoke"
    assert body["network"]["mtu"] == 1450
    assert body["network"]["revision_number"] == 1
