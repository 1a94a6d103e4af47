"""The agent channel as a test plays an agent on it: plain HTTP on ``/agent/v1``, and the
database's heartbeat set directly (an agent that went quiet)."""
import requests
from sqlalchemy import create_engine, update

from trunkline.db import engine as db_engine, schema

OVS, DHCP = "Open vSwitch agent", "DHCP agent"


class Channel:
    def __init__(self, url):
        self.url = url + "/agent/v1"

    def post(self, path, body):
        r = requests.post(self.url + path, json=body, timeout=70)
        return r.status_code, (r.json() if r.content else None)

    def get(self, path, **params):
        r = requests.get(self.url + path, params=params, timeout=70)
        return r.status_code, (r.json() if r.content else None)

    def register(self, host, agent_type=OVS, **configurations):
        binary = "trunkline-dhcp" if agent_type == DHCP else "trunkline-agent"
        status, body = self.post("/agents", {"host": host, "agent_type": agent_type,
                                             "binary": binary,
                                             "configurations": configurations})
        assert status == 200, body
        return body["agent"]

    def state(self, host, **params):
        status, body = self.get("/hosts/%s/state" % host, **params)
        assert status == 200, body
        return body

    def report(self, host, ports=None, trunks=None):
        return self.post("/status", {"host": host, "ports": ports or {},
                                     "trunks": trunks or {}})


def get_port(client, port_id):
    return client.get("/ports/" + port_id)[1]["port"]


def set_heartbeat(server, agent_id, stamp):
    eng = create_engine(db_engine.normalise_url(server.db_url))
    try:
        with eng.begin() as conn:
            conn.execute(update(schema.agents).where(schema.agents.c.id == agent_id)
                         .values(heartbeat_at=stamp))
    finally:
        eng.dispose()
