"""The reservation container reads the one GPU it was given, and never invents a UUID."""

from __future__ import annotations

import pytest

from scheduler.kube import reserve

SMI = """GPU 0: NVIDIA H200 (UUID: GPU-1b2c3d4e-aaaa-bbbb-cccc-0123456789ab)
"""


def test_nvidia_smi_lines_give_the_uuid() -> None:
    assert reserve.uuids_from_nvidia_smi(SMI) == ["GPU-1b2c3d4e-aaaa-bbbb-cccc-0123456789ab"]
    assert reserve.uuids_from_nvidia_smi("No devices were found\n") == []


def test_without_exactly_one_gpu_it_fails_and_invents_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi here, and NVML is not installed
    with pytest.raises(reserve.NoGpu):
        reserve.read_uuid()
    assert reserve.main() == 1
