"""Build-it labs: the student builds a part of the design (a server in the balancer, a firewall), graded by the lab's own measurements."""
