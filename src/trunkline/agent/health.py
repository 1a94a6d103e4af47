"""The truth about an agent's passes, for its heartbeat and its log: ``last_pass`` in the
agent's ``configurations`` (``openstack network agent show``) is ``null`` before the first pass,
then ``{"ok": true, "error": null, "failing_since": null}`` or ``{"ok": false, "error": "...",
"failing_since": "2026-01-01 10:00:00"}`` (UTC, when the passes started failing). It changes
only when a pass changes the story (ok to failing, another error, failing to ok), so an
unchanged heartbeat stays the cheap one on the server; the agent sends a changed one at once.
``hint`` turns an error into what an operator should do about it."""
import datetime

from trunkline.agent.client import ChannelError

MAX_ERROR = 400


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def describe(error):
    return ("%s: %s" % (type(error).__name__, error))[:MAX_ERROR]


class PassHealth:
    def __init__(self):
        self.last = None

    def passed(self):
        """A pass succeeded; returns True when that changes ``last_pass``."""
        before, self.last = self.last, {"ok": True, "error": None, "failing_since": None}
        return before != self.last

    def failed(self, error):
        """A pass failed with ERROR; returns True when that changes ``last_pass``."""
        before = self.last
        since = before["failing_since"] if before and not before["ok"] else _now()
        self.last = {"ok": False, "error": describe(error), "failing_since": since}
        return before != self.last

    @property
    def failing(self):
        return bool(self.last) and not self.last["ok"]


def hint(error, stage, server, ovsdb_target=None):
    """What to do about a pass that failed with ERROR while it talked to STAGE ("server",
    "dhcp" or "switch"), as a sentence."""
    if stage == "server":
        if isinstance(error, ChannelError) and error.status in (401, 403):
            return "the server refuses this agent: give it the deployment's --agent-secret-file"
        if isinstance(error, ChannelError):
            return "the server at %s answered an error: see its log" % server
        return "is the server at %s running and reachable?" % server
    if stage == "dhcp":
        return ("DHCP could not be set up: see the error above (dnsmasq installed? its state "
                "directory readable by `nobody`?) and run `trunkline doctor`")
    if stage == "switch":
        return ("Open vSwitch is not working: check that ovsdb-server and ovs-vswitchd run "
                "(ovs-vsctl --db=%s show; ovs-vswitchd.log says why a bridge could not be "
                "created) and run `trunkline doctor`" % (ovsdb_target or "unix:.../db.sock"))
    return "run the agent with --log-level debug for the traceback, and `trunkline doctor`"
