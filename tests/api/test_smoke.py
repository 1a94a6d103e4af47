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


def test_idle_keep_alive_connection_lives_until_client_socket_timeout(tmp_path):
    """An idle keep-alive connection is kept for --client-socket-timeout seconds (Neutron's
    client_socket_timeout), then closed by the server; by default far longer than a client's
    pause between two calls, so a reused connection is never reset under it."""
    import http.client
    import time
    from helpers.server import Server
    srv = Server("sqlite:///%s/ka.db" % tmp_path, extra=["--client-socket-timeout", "2"])
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/v2.0/networks")
        assert conn.getresponse().read()
        sock = conn.sock
        time.sleep(0.5)
        conn.request("GET", "/v2.0/networks")     # still the same connection
        r = conn.getresponse()
        assert r.status == 200 and r.read() and conn.sock is sock
        time.sleep(3)
        assert sock.recv(1) == b""                  # the server closed it
        conn.close()
    finally:
        srv.stop()
    from trunkline import server
    assert server.KEEP_ALIVE == 900
