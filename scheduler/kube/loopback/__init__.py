"""A loopback kube-apiserver double: enough of the API's semantics to test and bench against.

Owns an in-process HTTP server that the real `kubernetes` client talks to over TCP, with the
behaviour the scheduler relies on (resourceVersion, list/watch with a bounded history and
410 Gone, bookmarks, timeoutSeconds, selectors, 409/404/400/422/429 as the apiserver sends
them, the binding and eviction subresources, Leases, ConfigMaps, Events). It lives in the
package, not in tests/, because `quotient bench bind` drives the scheduler against it. It
must not be used to run a real scheduler, and it imports nothing of `kubernetes`.
"""
