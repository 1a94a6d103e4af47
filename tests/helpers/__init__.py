"""What the tests share besides fixtures: real servers and PostgreSQL (server), API clients
(api), private Open vSwitch labs (dataplane), lab hosts (multihost), a test Keystone (keystone)."""
