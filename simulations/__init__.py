"""Discrete-event simulator: the same scheduling loop against an in-memory cluster."""
