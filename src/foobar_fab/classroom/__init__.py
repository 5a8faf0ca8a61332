"""A class: one lab per student, each in an Incus project of its own, reached through one SSH entry point.

The class file (classfile) names the students and the design; each student's lab is that design under
the student's own name and subnet, built by the incus provider in the student's project (projects). The
entry point (entry) forwards each student's key to their own lab's nodes only, and the class's firewall
(firewall) keeps the labs apart on the host. `invoke class.*` drives it (tasks/classroom.py).
"""
