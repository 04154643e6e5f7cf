"""Quotient's pure fair-share core.

Owns every scheduling decision: quota tree, fair-share division, ordering, placement,
reclaim and preemption, and the plan a cycle emits. It must not do I/O, read a clock,
draw random numbers, or import Kubernetes, databases, web frameworks or asyncio: the
live scheduler and the simulator both call `decide` with a snapshot and act on its plan.
"""
