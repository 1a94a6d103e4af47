"""Neutron's nova notifier: the events Nova waits for (``network-vif-plugged`` and the others)
computed from the core's port changes (events.py) and posted, batched, to Nova's
``os-server-external-events`` with service credentials from Keystone (notifier.py)."""
