"""The scheduling loop and its ports.

Owns the cycle: snapshot the cluster and the quota tree through ports, call the pure
`fairshare.decide`, hand the plan to the executor, remember what it assumed. It must not
decide anything itself (fairshare does) nor talk to Kubernetes outside `scheduler.kube`.
"""
