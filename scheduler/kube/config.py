"""Connecting to a cluster: a kubeconfig file, else in-cluster config, else the default file.

Owns building one `kubernetes.client.ApiClient` (never a global default configuration), with
a connection pool large enough for parallel binds, and turning a bad or missing config into
one clear `ClusterConfigError`. It must not call the API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException


class ClusterConfigError(RuntimeError):
    """No usable cluster configuration; the message says which was tried and why."""


def api_client(kubeconfig: Path | str | None = None, *, pool_size: int = 32) -> client.ApiClient:
    cfg = client.Configuration()
    try:
        if kubeconfig is not None:
            config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            try:
                config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
            except ConfigException:
                config.load_kube_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, TypeError, ValueError) as e:
        where = f"kubeconfig {kubeconfig}" if kubeconfig else "in-cluster config or ~/.kube/config"
        raise ClusterConfigError(f"cannot load {where}: {e}") from None
    return for_host(cfg, pool_size)


def for_host(cfg: client.Configuration, pool_size: int = 32) -> client.ApiClient:
    cfg.connection_pool_maxsize = pool_size
    cfg.retries = 0  # the reflectors and the executor retry, with their own back-off
    return client.ApiClient(cfg)


def loopback_client(url: str, pool_size: int = 32) -> client.ApiClient:
    """An ApiClient for a plain-HTTP server such as the loopback double."""
    cfg = client.Configuration()
    cfg.host = url
    return for_host(cfg, pool_size)


def done(response: Any) -> bytes:
    """Read a raw (`_preload_content=False`) reply to its end, then give its connection back.

    Releasing without reading would hand the next request a connection with this body still
    unread, which the next reply's parser then takes for its status line.
    """
    data: bytes = response.data
    response.release_conn()
    return data
