"""The Neutron v2.0 API over HTTP: routing, bodies, lists, authentication, policy, OpenAPI."""
