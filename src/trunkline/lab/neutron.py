"""A minimal Neutron v2.0 HTTP client for the lab (stdlib urllib, JSON).

The lab plays Nova: it only needs to find ports, networks and agents and to update a port's
binding, so a few dozen lines replace openstacksdk at runtime. Without credentials in the
environment it sends no token (a no-auth server, ``OS_AUTH_TYPE=none``); with ``OS_CLOUD``
(clouds.yaml, read by openstacksdk's config loader) or ``OS_AUTH_URL`` and the other ``OS_*``
variables (read by keystoneauth1) it sends a Keystone token and finds the API in the
catalog (type ``network``) unless an endpoint is given.
"""
import functools
import json
import os
import urllib.error
import urllib.parse
import urllib.request

from trunkline import constants as c

DEFAULT_ENDPOINT = "http://127.0.0.1:9696"
OVS_AGENT = c.AGENT_OVS


def default_endpoint():
    """$OS_ENDPOINT, else the catalog's network endpoint with Keystone credentials, else
    the local default."""
    if os.environ.get("OS_ENDPOINT"):
        return os.environ["OS_ENDPOINT"]
    ks = keystone()
    if ks is None:
        return DEFAULT_ENDPOINT
    session, interface, region = ks
    try:
        url = session.get_endpoint(service_type="network", interface=interface,
                                   region_name=region)
    except Exception as e:  # keystoneauth1's errors: no Keystone, bad credentials, no entry
        raise NeutronError("cannot find the network endpoint in Keystone's catalog: %s" % e)
    if not url:
        raise NeutronError("Keystone's catalog has no network endpoint (interface %s%s): "
                           "pass --endpoint" % (interface, ", region %s" % region
                                                if region else ""))
    return url


@functools.lru_cache(maxsize=None)
def keystone():
    """(keystoneauth1 session, interface, region) from the environment, or None (no auth)."""
    env = os.environ
    if (env.get("OS_AUTH_TYPE") or "").lower() in ("none", "noauth", "admin_token"):
        return None
    try:
        if env.get("OS_CLOUD"):
            from openstack import config
            cloud = config.OpenStackConfig().get_one(cloud=env["OS_CLOUD"])
            return cloud.get_session(), cloud.get_interface() or "public", cloud.region_name
        if not env.get("OS_AUTH_URL"):
            return None
        from keystoneauth1 import loading
        loader = loading.get_plugin_loader(env.get("OS_AUTH_TYPE") or "password")
        options = {}
        for opt in loader.get_options():
            for name in [opt.dest] + [o.dest for o in opt.deprecated]:
                if env.get("OS_" + name.upper()):
                    options[opt.dest] = env["OS_" + name.upper()]
                    break
        session = loading.session.Session().load_from_options(
            auth=loader.load_from_options(**options), cacert=env.get("OS_CACERT"),
            cert=env.get("OS_CERT"), key=env.get("OS_KEY"),
            insecure=env.get("OS_INSECURE", "").lower() in ("1", "true", "yes"))
        return session, env.get("OS_INTERFACE") or "public", env.get("OS_REGION_NAME")
    except ImportError:
        raise NeutronError("OS_CLOUD needs openstacksdk (pip install openstacksdk), or set "
                           "the OS_AUTH_URL/OS_USERNAME/... variables instead")
    except Exception as e:  # keystoneauth1's and openstacksdk's errors: unusable settings
        raise NeutronError("cannot use the OpenStack credentials in the environment: %s" % e)


class NeutronError(RuntimeError):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


class Neutron:
    def __init__(self, endpoint=None, timeout=10):
        self.endpoint = (endpoint or default_endpoint()).rstrip("/")
        self.timeout = timeout
        self.keystone = keystone()

    def _auth_headers(self):
        if self.keystone is None:
            return {}
        try:
            return self.keystone[0].get_auth_headers() or {}
        except Exception as e:  # keystoneauth1's errors
            raise NeutronError("cannot get a Keystone token: %s" % e)

    def request(self, method, path, body=None, query=None):
        url = self.endpoint + "/v2.0" + path
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/json",
                                              **self._auth_headers()})
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
