"""Quotient's composition root: the `quotient` command line.

Owns wiring the command groups of the other packages into one CLI. It must not contain
scheduling, API or simulation logic; each package registers its own commands.
"""
