"""The security group service: the API of groups, rules and rule templates (plugin), rule
validation (rules), the writes both share (groups), and what it does when the core creates
networks and ports or changes ports (callbacks). No dataplane yet: agents are not told."""
