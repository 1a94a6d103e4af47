"""The OVSDB manager (``--ovsdb-manager``, ovs/manager.py): the agent keeps
``ptcp:6640:127.0.0.1`` in the switch's manager_options, so ovsdb-server also serves os-vif's
default ``ovsdb_connection`` (tcp:127.0.0.1:6640), as Neutron's agent does; managers others
added stay; ``none`` adds nothing.

Each private OVS here runs its ovsdb-server inside its test's own network namespace, so port 6640
is that namespace's loopback: tests running side by side do not collide on it."""
import pytest

from helpers.dataplane import lab, needs_root_ovs, sh, wait_for  # noqa: F401
from trunkline.agent.ovs import manager
from trunkline.agent.ovs.driver import OvsDriver
from trunkline.cli.main import parser

pytestmark = needs_root_ovs

EMPTY = {"revision": 1, "host": "h", "networks": {}, "ports": [], "trunks": []}


def _targets(lab):
    return sorted(lab.vsctl("get-manager").split())


def _list_br(lab, port):
    """ovs-vsctl over TCP from inside the switch's namespace: the bridges, or None."""
    out = sh("ovs-vsctl", "--timeout=2", "--db=tcp:127.0.0.1:%d" % port, "list-br",
             netns=lab.sw, check=False, timeout=10)
    return out.split() if out else None


def test_default_manager_added_once_served_over_tcp_others_kept(lab):
    args = parser("agent").parse_args(["agent", "--ovsdb", lab.db])
    assert args.ovsdb_manager == manager.DEFAULT == "ptcp:6640:127.0.0.1"
    # someone else's manager is there already
    lab.vsctl("--id=@m", "create", "Manager", 'target="ptcp:6641:127.0.0.1"',
              "--", "add", "Open_vSwitch", ".", "manager_options", "@m")
    drv = OvsDriver(ovsdb_target=lab.db, ovs_rundir=lab.rundir, datapath_type="netdev",
                    ovsdb_manager=args.ovsdb_manager)
    assert _list_br(lab, 6640) is None              # nothing listens there yet
    drv.reconcile(EMPTY, [])
    assert _targets(lab) == ["ptcp:6640:127.0.0.1", "ptcp:6641:127.0.0.1"]
    assert drv.configurations()["ovsdb_manager"] == "ptcp:6640:127.0.0.1"
    # os-vif's default connection now reaches this switch
    assert wait_for(lambda: _list_br(lab, 6640) == ["br-int"], 5)
    # only when it differs: a second pass (and a restarted agent) writes nothing
    drv.reconcile(EMPTY, [])
    assert drv.wiring.last_timing["ops"] == 0
    again = OvsDriver(ovsdb_target=lab.db, ovs_rundir=lab.rundir, datapath_type="netdev",
                      ovsdb_manager="ptcp:6640:127.0.0.1")
    again.reconcile(EMPTY, [])
    assert again.wiring.last_timing["ops"] == 0
    assert _targets(lab) == ["ptcp:6640:127.0.0.1", "ptcp:6641:127.0.0.1"]
    # removed behind the agent's back: the next full pass puts it back
    lab.vsctl("del-manager")
    drv.wiring.switch_changed()
    drv.reconcile(EMPTY, [])
    assert _targets(lab) == ["ptcp:6640:127.0.0.1"]


def test_none_adds_no_manager_and_a_per_host_port_works(lab):
    args = parser("agent").parse_args(["agent", "--ovsdb-manager", "none"])
    assert args.ovsdb_manager is None
    drv = OvsDriver(ovsdb_target=lab.db, ovs_rundir=lab.rundir, datapath_type="netdev",
                    ovsdb_manager=args.ovsdb_manager)
    drv.reconcile(EMPTY, [])
    assert _targets(lab) == []
    target = parser("agent").parse_args(
        ["agent", "--ovsdb-manager", "ptcp:16640:127.0.0.1"]).ovsdb_manager
    OvsDriver(ovsdb_target=lab.db, ovs_rundir=lab.rundir, datapath_type="netdev",
              ovsdb_manager=target).reconcile(EMPTY, [])
    assert _targets(lab) == ["ptcp:16640:127.0.0.1"]
    assert wait_for(lambda: _list_br(lab, 16640) == ["br-int"], 5)


@pytest.mark.parametrize("bad", ["tcp:127.0.0.1:6640", "ptcp:", "ptcp:70000", "ptcp:6640:x",
                                 "punix:", "6640"])
def test_bad_manager_is_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as e:
        parser("agent").parse_args(["agent", "--ovsdb-manager", bad])
    assert e.value.code == 2
    assert "an OVSDB manager is ptcp:PORT[:IP]" in capsys.readouterr().err
