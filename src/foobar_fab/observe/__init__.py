"""Observing the running lab, in one place: the site as a client sees it, HAProxy's view of its
servers, the databases, and commands on the nodes. Checks, drills, `watch` and the benchmarks use
these; nothing here changes the lab.
"""
