"""Reading manifests/ as `kubectl apply -k` would: the Kustomizations, their resources, and
the documents in them, with helpers to find objects and their containers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
Obj = dict[str, Any]


@dataclass(frozen=True)
class Doc:
    path: Path
    index: int
    obj: Obj

    @property
    def where(self) -> str:
        name = (self.obj.get("metadata") or {}).get("name", "?")
        return f"{self.path.relative_to(ROOT)}#{self.index} {self.obj.get('kind')}/{name}"


def kustomizations() -> list[Path]:
    return sorted(MANIFESTS.rglob("kustomization.yaml"))


def resources_of(kustomization: Path) -> list[Path]:
    spec = yaml.safe_load(kustomization.read_text())
    return [(kustomization.parent / r).resolve() for r in spec.get("resources") or []]


def yaml_files() -> list[Path]:
    return sorted(p for p in MANIFESTS.rglob("*.yaml") if p.name != "kustomization.yaml")


def docs(paths: list[Path] | None = None) -> list[Doc]:
    return [d for path in (paths if paths is not None else yaml_files()) for d in _read(path)]


@cache
def _read(path: Path) -> tuple[Doc, ...]:
    # Parsed once per test run; tests only read what they are given.
    loaded = yaml.safe_load_all(path.read_text())
    return tuple(Doc(path, i, obj) for i, obj in enumerate(loaded) if obj is not None)


def base_docs() -> list[Doc]:
    """What `kubectl apply -k manifests/` applies (the base, not the overlays or examples)."""
    return docs(resources_of(MANIFESTS / "kustomization.yaml"))


def find(kind: str, name: str, pool: list[Doc] | None = None) -> Obj:
    for doc in pool if pool is not None else base_docs():
        if doc.obj["kind"] == kind and doc.obj["metadata"]["name"] == name:
            return doc.obj
    raise AssertionError(f"no {kind}/{name} in the manifests")


def of_kind(kind: str, pool: list[Doc] | None = None) -> list[Obj]:
    return [d.obj for d in (pool if pool is not None else base_docs()) if d.obj["kind"] == kind]


def pod_specs(obj: Obj) -> Iterator[Obj]:
    """The pod spec of a Pod, or of a workload's pod template."""
    if obj["kind"] == "Pod":
        yield obj["spec"]
    elif obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        yield obj["spec"]["template"]["spec"]


def pod_of(obj: Obj) -> Obj:
    """A Pod as the workload controller would create it (template metadata and spec)."""
    if obj["kind"] == "Pod":
        return obj
    template = obj["spec"]["template"]
    meta = {**template.get("metadata", {}), "namespace": obj["metadata"]["namespace"]}
    meta["generateName"] = obj["metadata"]["name"] + "-"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}


def flag(args: list[str], name: str) -> str:
    """The value after `--name` in a container's args."""
    if name not in args:
        raise AssertionError(f"{name} is not in {args}")
    return args[args.index(name) + 1]
