"""The lab: simulated hosts and guests on one machine, and the seed walkthrough (`trunkline demo`)."""
