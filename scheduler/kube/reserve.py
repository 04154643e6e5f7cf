"""`python -m scheduler.kube.reserve`: the container of a GPU reservation pod.

Owns reading the UUID of the one GPU the device plugin gave this pod (NVML through the
`pynvml` module when it is installed, else `nvidia-smi -L`), patching it onto the pod's own
annotation `quotient.io/gpu-uuid`, then holding the GPU until SIGTERM. It never invents a
UUID: no GPU, or more than one, is an error and a non-zero exit, and the scheduler deletes
a reservation that never reports. It must not do anything else with the GPU.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from types import FrameType
from typing import Any

UUID_NOTE = "quotient.io/gpu-uuid"
_UUID = re.compile(r"\(UUID: (GPU-[0-9a-fA-F-]+)\)")


class NoGpu(RuntimeError):
    pass


def uuids_from_nvidia_smi(output: str) -> list[str]:
    """`nvidia-smi -L` lines: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5c5a...)"."""
    return [m.group(1) for m in _UUID.finditer(output)]


def read_uuid() -> str:
    found: list[str] = []
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        found = [
            str(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i)))
            for i in range(pynvml.nvmlDeviceGetCount())
        ]
    except Exception:  # no NVML library or module: fall back to the command line tool
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
            found = uuids_from_nvidia_smi(out.stdout)
        except (OSError, subprocess.SubprocessError) as e:
            raise NoGpu(f"neither NVML nor nvidia-smi could be read: {e}") from None
    if len(found) != 1:
        raise NoGpu(f"expected exactly one visible GPU, found {len(found)}: {found}")
    return found[0]


def main() -> int:
    try:
        gpu = read_uuid()
    except NoGpu as e:
        print(f"reserve: {e}", file=sys.stderr)
        return 1
    # Imported here so that reading the UUID needs nothing but the driver's tools.
    from kubernetes import client, config

    from scheduler.kube.config import done

    name, namespace = os.environ["POD_NAME"], os.environ["POD_NAMESPACE"]
    config.load_incluster_config()  # type: ignore[no-untyped-call]
    api: Any = client.CoreV1Api(client.ApiClient())
    patch = {"metadata": {"annotations": {UUID_NOTE: gpu}}}
    done(api.patch_namespaced_pod(name, namespace, patch, _preload_content=False))
    print(f"reserve: {namespace}/{name} holds {gpu}", flush=True)
    finished = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        finished.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    finished.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
