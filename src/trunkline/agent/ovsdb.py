"""A minimal RFC 7047 OVSDB JSON-RPC client (stdlib socket + json), `unix:PATH` or `tcp:HOST:PORT`.

Why not ovsdbapp: its Python IDL parses every row update of a transaction, which for a trunk
of thousands of subports (two patch Port+Interface rows each) costs an order of magnitude more
than ONE raw `transact` of named-uuid inserts and a Bridge `ports` mutate (bench/wiring.py
measures the raw path). ovsdbapp's shape — verbs in one transaction — lives in ovs/switch.py on
top of this client. The agent reads once with `select`, writes once with `transact`; monitors
only wake it.
"""
import codecs
import json
import socket
import time

DB = "Open_vSwitch"


class OvsdbError(RuntimeError):
    """An OVSDB operation or RPC failed."""


def omap(d):
    """Python dict -> OVSDB map."""
    return ["map", [[str(k), str(v)] for k, v in sorted(d.items())]]


def uuid(u):
    return ["uuid", u]


def named(name):
    return ["named-uuid", name]


def py(value):
    """OVSDB datum -> Python: map -> dict, set -> list, uuid -> str, atoms unchanged."""
    if isinstance(value, list) and len(value) == 2:
        kind, body = value
        if kind == "map":
            return {py(k): py(v) for k, v in body}
        if kind == "set":
            return [py(v) for v in body]
        if kind in ("uuid", "named-uuid"):
            return body
    return value


def opt(value):
    """An optional column (min 0, max 1) as Python: the atom or None."""
    v = py(value)
    if isinstance(v, list):
        return v[0] if v else None
    return v


class Ovsdb:
    """One connection to an ovsdb-server. Not thread-safe; one per agent loop."""

    def __init__(self, target, timeout=30.0):
        self.target = target
        self.timeout = timeout
        self._sock = None
        self._buf = ""
        self._id = 0
        self._dec = json.JSONDecoder()

    def connect(self):
        if self._sock is not None:
            return self
        if self.target.startswith("unix:"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = self.target[5:]
        elif self.target.startswith("tcp:"):
            host, _, port = self.target[4:].rpartition(":")
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            addr = (host, int(port))
        else:
            raise ValueError("OVSDB target must be unix:PATH or tcp:HOST:PORT, not %r" % self.target)
        s.settimeout(self.timeout)
        try:
            s.connect(addr)
        except OSError:
            s.close()
            raise
        self._sock, self._buf = s, ""
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        return self

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    def _recv_obj(self):
        parts = [self._buf]
        try_decode = bool(self._buf.strip())
        while True:
            if try_decode:
                text = "".join(parts).lstrip()
                parts = [text]
                try:
                    obj, end = self._dec.raw_decode(text)
                    self._buf = text[end:]
                    return obj
                except ValueError:
                    pass
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                self.close()
                raise OvsdbError("connection to %s closed" % self.target)
            chunk = self._utf8.decode(chunk)     # a chunk may end inside a UTF-8 sequence
            parts.append(chunk)
            # a reply ends with "}": only then try to parse (parsing every partial chunk of a
            # multi-megabyte reply would be quadratic)
            try_decode = chunk.rstrip().endswith("}")

    def call(self, method, params):
        self.connect()
        self._id += 1
        my = self._id
        try:
            self._sock.sendall(json.dumps({"method": method, "params": params, "id": my}).encode())
            while True:
                obj = self._recv_obj()
                if obj.get("method") == "echo":       # server keep-alive
                    self._sock.sendall(json.dumps({"result": obj.get("params", []), "error": None,
                                                   "id": obj.get("id")}).encode())
                    continue
                if obj.get("id") != my:
                    continue
                if obj.get("error"):
                    raise OvsdbError("%s: %s" % (method, obj["error"]))
                return obj["result"]
        except OSError:
            self.close()
            raise

    def monitor(self, table, columns, on_update, on_start=None):
        """Follow ``table`` (RFC 7047 ``monitor``): ``on_update(rows)`` gets each change as
        {uuid: {"old": ..., "new": ...}}; ``on_start()`` is called once the monitor is in
        place (every later change is reported); blocks until the connection closes."""
        self.connect()
        self._sock.settimeout(None)
        self.call("monitor", [DB, "trunkline", {table: {"columns": list(columns)}}])
        if on_start is not None:
            on_start()
        while True:
            obj = self._recv_obj()
            if obj.get("method") == "echo":
                self._sock.sendall(json.dumps({"result": obj.get("params", []), "error": None,
                                               "id": obj.get("id")}).encode())
            elif obj.get("method") == "update":
                on_update(obj["params"][1].get(table, {}))

    def transact(self, ops):
        """Run ops in ONE transaction; raise OvsdbError listing the failed operations."""
        if not ops:
            return []
        res = self.call("transact", [DB] + list(ops))
        errs = [(i, r) for i, r in enumerate(res) if isinstance(r, dict) and "error" in r]
        if errs or len(res) > len(ops):
            raise OvsdbError("transaction failed: %s" % (errs or res[len(ops):],))
        return res

    def select(self, table, columns=None, where=()):
        op = {"op": "select", "table": table, "where": list(where)}
        if columns is not None:
            op["columns"] = list(columns)
        return self.transact([op])[0]["rows"]

    def commit(self, ops, wait=True, timeout=60.0):
        """ops + `next_cfg += 1` in one transaction; then wait until ovs-vswitchd has applied
        it (`cur_cfg` >= the new `next_cfg`). Returns the transaction results (without the extra
        two operations) and the seconds spent waiting."""
        if not ops:
            return [], 0.0
        extra = [{"op": "mutate", "table": "Open_vSwitch", "where": [],
                  "mutations": [["next_cfg", "+=", 1]]},
                 {"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]}]
        res = self.transact(list(ops) + extra)
        want = res[-1]["rows"][0]["next_cfg"]
        t0 = time.monotonic()
        if wait:
            self.wait_cfg(want, timeout)
        return res[:-2], time.monotonic() - t0

    def wait_cfg(self, want, timeout=60.0):
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            cur = self.select("Open_vSwitch", ["cur_cfg"])[0]["cur_cfg"]
            if cur >= want:
                return True
            if time.monotonic() > deadline:
                raise OvsdbError("ovs-vswitchd did not apply cfg %d within %.0f s (cur_cfg %d)"
                                 % (want, timeout, cur))
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
