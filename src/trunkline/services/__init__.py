"""Features built on the core through its events, one package each (trunk/)."""
