"""Trace-driven experiments: the FGD packing replay on Alibaba's OpenB trace, fairness over
time on Philly, and the simulator speed benchmark. Each study lives in its own modules; the
CLI is `simulations.experiments.cli`. Nothing here imports Kubernetes."""
