"""The `trunkline` command line: server, up, demo and db (main.py); agent and lab parse
only their own options (agent.py, lab.py)."""
