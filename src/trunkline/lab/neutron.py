"""A minimal Neutron v2.0 HTTP client for the lab (stdlib urllib, JSON, no auth).

The lab plays Nova: it only needs to find ports, networks and agents and to update a port's
binding, so a few dozen lines replace openstacksdk at runtime.
"""
import json
import os
import urllib.error
import urllib.parse
import urllib.request

from trunkline import constants as c

DEFAULT_ENDPOINT = "http://127.0.0.1:9696"
OVS_AGENT = c.AGENT_OVS


def default_endpoint():
    return os.environ.get("OS_ENDPOINT") or DEFAULT_ENDPOINT


class NeutronError(RuntimeError):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


class Neutron:
    def __init__(self, endpoint=None, timeout=10):
        self.endpoint = (endpoint or default_endpoint()).rstrip("/")
        self.timeout = timeout

    def request(self, method, path, body=None, query=None):
        url = self.endpoint + "/v2.0" + path
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            try:
                detail = json.loads(detail)["NeutronError"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            raise NeutronError("%s %s: HTTP %d %s" % (method, path, e.code, detail),
                               status=e.code) from None
        except OSError as e:
            raise NeutronError("cannot reach the trunkline API at %s (%s): start `trunkline up` "
                               "first or pass --endpoint" % (self.endpoint, e)) from None
        return json.loads(raw) if raw else None

    # --- resources ---
    def find_port(self, name_or_id):
        """A port by id, else by name (exactly one must match)."""
        try:
            return self.request("GET", "/ports/" + urllib.parse.quote(name_or_id))["port"]
        except NeutronError as e:
            if e.status not in (404, 400):
                raise
        ports = self.request("GET", "/ports", query={"name": name_or_id})["ports"]
        if not ports:
            raise NeutronError("no port with name or id %r" % name_or_id, status=404)
        if len(ports) > 1:
            raise NeutronError("%d ports are named %r: use the port id"
                               % (len(ports), name_or_id), status=409)
        return ports[0]

    def get_port(self, port_id):
        return self.request("GET", "/ports/" + port_id)["port"]

    def update_port(self, port_id, **fields):
        return self.request("PUT", "/ports/" + port_id, body={"port": fields})["port"]

    def get_network(self, network_id):
        return self.request("GET", "/networks/" + network_id)["network"]

    def agents(self, **query):
        return self.request("GET", "/agents", query=query or None)["agents"]

    def ovs_agent(self, host=None):
        """The live Open vSwitch agent of HOST, or the only live one when HOST is None."""
        query = {"agent_type": OVS_AGENT}
        if host:
            query["host"] = host
        found = [a for a in self.agents(**query)
                 if a.get("agent_type") == OVS_AGENT and (not host or a.get("host") == host)]
        live = [a for a in found if a.get("alive")]
        if not live:
            where = " on host %r" % host if host else ""
            dead = " (one is registered but not alive)" if found else ""
            raise NeutronError("no live %s%s%s: start `trunkline up` first"
                               % (OVS_AGENT, where, dead))
        if len(live) > 1:
            raise NeutronError("%d live %ss (hosts %s): choose one with --host"
                               % (len(live), OVS_AGENT,
                                  ", ".join(sorted(a["host"] for a in live))))
        return live[0]
