"""Operating a host: what a ``trunkline up`` started (its record and locks), removing what a
killed one left (``trunkline down``, the reclaim at start) and checking a host
(``trunkline doctor``)."""
