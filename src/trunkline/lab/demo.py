"""``trunkline demo``: the seed's trunk walkthrough, run verbatim with the real ``openstack`` CLI
against a private server (free 127.0.0.1 port, temporary SQLite database), printed step by step.
Everything it starts is stopped by PID and its state directory removed, also on failure."""
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SEED_STEPS = [
    ("1. networks net0, net1, net2 and their subnets", [
        "openstack network create net0",
        "openstack network create net1",
        "openstack network create net2",
        "openstack subnet create --network net0 --subnet-range 10.0.4.0/24 subnet0",
        "openstack subnet create --network net1 --subnet-range 10.0.5.0/24 subnet1",
        "openstack subnet create --network net2 --subnet-range 10.0.6.0/24 subnet2",
    ]),
    ("2. the parent port on net0 and one subport on each of net1 and net2", [
        "openstack port create --network net0 trunkparent",
        "openstack port create --network net1 subport1",
        "openstack port create --network net2 subport2",
    ]),
    ("3. mytrunk: trunkparent carries subport1 on VLAN 1 and subport2 on VLAN 2", [
        "openstack network trunk create --parent-port trunkparent "
        "--subport port=subport1,segmentation-type=vlan,segmentation-id=1 "
        "--subport port=subport2,segmentation-type=vlan,segmentation-id=2 mytrunk",
    ]),
    ("4. the trunk and its subports", [
        "openstack network trunk list",
        "openstack network trunk show mytrunk",
        "openstack network subport list --trunk mytrunk",
    ]),
    ("5. the subports' MAC addresses (the guest's eth0.1 and eth0.2 use them)", [
        "openstack port show subport1 -c id -c mac_address -c name",
        "openstack port show subport2 -c id -c mac_address -c name",
        "openstack port show trunkparent -c id -c name -c trunk_details",
    ]),
    ("6. change the trunk: rename, drop subport2, add it back on VLAN 20", [
        "openstack network trunk set --name mytrunk --description 'seed trunk' mytrunk",
        "openstack network trunk unset --subport subport2 mytrunk",
        "openstack network trunk set "
        "--subport port=subport2,segmentation-type=vlan,segmentation-id=20 mytrunk",
        "openstack network subport list --trunk mytrunk",
    ]),
]
CLEANUP = [
    "openstack network trunk delete mytrunk",
    "openstack port delete trunkparent subport1 subport2",
    "openstack network delete net0 net1 net2",
]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited early (code %s)" % proc.returncode)
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not answer within %d s" % timeout)


def _openstack():
    path = os.path.join(os.path.dirname(sys.executable), "openstack")
    if os.path.exists(path):
        return path
    found = shutil.which("openstack")
    if not found:
        raise SystemExit("trunkline demo needs the openstack CLI: run `make install` (it installs "
                         "python-openstackclient into .venv)")
    return found


def _run(cmd, env, osc):
    print("\n$ " + cmd, flush=True)
    argv = [osc] + shlex.split(cmd)[1:]
    result = subprocess.run(argv, env=env, text=True, capture_output=True)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.stdout.write(result.stderr)
        raise RuntimeError("step failed: %s" % cmd)


def run(keep=False):
    osc = _openstack()
    state = tempfile.mkdtemp(prefix="trunkline-demo-")
    port = _free_port()
    url = "http://127.0.0.1:%d" % port
    trunkline = os.path.join(os.path.dirname(sys.executable), "trunkline")
    log = open(os.path.join(state, "server.log"), "w")
    started = time.time()
    proc = subprocess.Popen([trunkline, "server", "--bind", "127.0.0.1:%d" % port,
                             "--state-dir", state], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_TYPE="none", OS_ENDPOINT=url)
    try:
        _wait(url + "/", proc)
        print("trunkline server on %s ready in %.2f s (state in %s)"
              % (url, time.time() - started, state))
        print("export OS_AUTH_TYPE=none OS_ENDPOINT=%s" % url)
        for title, commands in SEED_STEPS:
            print("\n=== %s" % title)
            for cmd in commands:
                _run(cmd, env, osc)
        print("\n=== 7. clean up")
        for cmd in CLEANUP:
            _run(cmd, env, osc)
        print("\nThe seed walkthrough ran end to end.")
        return 0
    except RuntimeError as e:
        print("\ndemo failed: %s (server log: %s)" % (e, log.name), file=sys.stderr)
        keep = True
        return 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        if not keep:
            shutil.rmtree(state, ignore_errors=True)
