"""Kubernetes adapters behind the loop's ports: the only code that talks to the Kubernetes API.

Owns translating cluster objects into the core's types (translate.py), the watch-fed cache
(reflector.py, cache.py, state.py), the executor (executor.py, fractional.py, events.py),
leader election (leader.py), metrics (metrics.py) and composing the live scheduler (run.py),
plus the loopback apiserver double that tests and `quotient bench bind` run against. It must
not decide anything: the live scheduler runs the simulator's `SchedulingLoop` and `decide`.
"""
