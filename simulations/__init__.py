"""Discrete-event simulator: the same scheduling loop against an in-memory cluster.

`loader.load_scenario(path)` reads a scenario file (models in scenario.py, cross-checks in
checks.py, conversion to core types in convert.py); `runner.simulate(input)` replays it on a
virtual clock (engine.py) through `scheduler.loop.SchedulingLoop` and the real
`fairshare.decide`, against `cluster.InMemoryCluster`; recorder.py and expectations.py watch
the run; result.py and report.py present it; cli.py registers `quotient simulate`. Nothing
here decides a placement or talks to Kubernetes.
"""
