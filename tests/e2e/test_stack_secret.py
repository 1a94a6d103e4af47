"""`trunkline up`'s stack with an agent secret: the server closes the agent channel to anyone
without it, and the stack's own agent (a real `trunkline agent` process, private Open vSwitch in
a namespace) registers because it sends the secret."""
import os
import shutil
import tempfile

import requests

from helpers.dataplane import needs_root_ovs
from trunkline.stack import Stack

pytestmark = needs_root_ovs


def test_stack_agent_uses_the_secret():
    root = tempfile.mkdtemp(prefix="tl-secret-", dir="/run")
    secret = os.path.join(root, "agent-secret")
    with open(secret, "w") as f:
        f.write("s3cret-for-this-stack\n")
    stack = Stack(os.path.join(root, "stack"), isolated=True, log=lambda *_: None,
                  agent_secret_file=secret)
    try:
        stack.start()  # returns once the agent has registered and is alive
        agents = requests.get(stack.url + "/v2.0/agents?host=" + stack.host, timeout=10).json()
        assert {a["agent_type"] for a in agents["agents"]} >= {"Open vSwitch agent"}
        r = requests.get(stack.url + "/agent/v1/hosts/%s/state" % stack.host, timeout=10)
        assert r.status_code == 401
        r = requests.get(stack.url + "/agent/v1/hosts/%s/state" % stack.host, timeout=10,
                         headers={"X-Trunkline-Agent-Secret": "s3cret-for-this-stack"})
        assert r.status_code == 200
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)
