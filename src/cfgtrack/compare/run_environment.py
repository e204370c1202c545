"""Two runs' environments side by side: Python, platform, GPU and the packages that differ."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cfgtrack.compare.run_items import ADDED, CHANGED, NOT_RECORDED, REMOVED, Item, item

_NAME_SEPARATORS = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class EnvironmentDiff:
    """Python, platform and GPU side by side, and the packages that differ."""

    facts: list[Item]
    packages: list[Item]
    equal_packages: int

    def to_dict(self) -> dict[str, Any]:
        by_kind = {
            kind: [p.to_dict() for p in self.packages if p.kind == kind]
            for kind in (ADDED, REMOVED, CHANGED)
        }
        return {
            **{
                fact.name: {"left": fact.left, "right": fact.right, "same": not fact.differs}
                for fact in self.facts
            },
            "packages": {**by_kind, "equal": self.equal_packages},
        }


def _normalized(name: str) -> str:
    return _NAME_SEPARATORS.sub("-", name).lower()


def package_changes(left: Mapping[str, str], right: Mapping[str, str]) -> tuple[list[Item], int]:
    """Packages added, removed or at another version from ``left`` to ``right`` (names compared
    the way pip does: case, ``-``, ``_`` and ``.`` alike), sorted by name; and how many are equal.
    """
    a = {_normalized(name): (name, version) for name, version in left.items()}
    b = {_normalized(name): (name, version) for name, version in right.items()}
    changes, equal = [], 0
    for key in sorted(a.keys() | b.keys()):
        name = (b.get(key) or a[key])[0]
        found = item(name, a[key][1] if key in a else None, b[key][1] if key in b else None)
        if found.differs:
            changes.append(found)
        else:
            equal += 1
    return changes, equal


def _python(environment: Mapping[str, Any]) -> str | None:
    python = environment.get("python") or {}
    if not python.get("version"):
        return None
    return f"{python.get('implementation') or 'Python'} {python['version']}"


def _platform(environment: Mapping[str, Any]) -> str | None:
    return (environment.get("os") or {}).get("platform")


def gpu_text(environment: Mapping[str, Any]) -> str | None:
    """``1x NVIDIA A100 (CUDA 12.2, driver 535.1)``, ``none``, or None when not recorded."""
    if "gpu" not in environment:
        return None
    gpu = environment.get("gpu")
    if not gpu or not gpu.get("devices"):
        return "none"
    names = Counter(device.get("name") or "GPU" for device in gpu["devices"])
    drivers = sorted({str(d["driver"]) for d in gpu["devices"] if d.get("driver")})
    extra = [f"CUDA {gpu['cuda_version']}"] if gpu.get("cuda_version") else []
    extra += [f"driver {', '.join(drivers)}"] if drivers else []
    text = ", ".join(f"{count}x {name}" for name, count in names.items())
    return f"{text} ({', '.join(extra)})" if extra else text


def environment_changes(
    left: Mapping[str, Any] | None, right: Mapping[str, Any] | None
) -> EnvironmentDiff:
    """The environment of ``right`` against ``left`` (records' ``environment`` sections)."""
    left, right = left or {}, right or {}
    facts = [
        item(name, read(left) or NOT_RECORDED, read(right) or NOT_RECORDED)
        for name, read in (("python", _python), ("platform", _platform), ("gpu", gpu_text))
    ]
    if "packages" in left and "packages" in right:
        packages, equal = package_changes(left["packages"], right["packages"])
    else:
        packages, equal = [], 0
        if "packages" in left or "packages" in right:
            shown = [
                f"{len(side['packages'])} packages" if "packages" in side else NOT_RECORDED
                for side in (left, right)
            ]
            packages = [item("packages", *shown)]
    return EnvironmentDiff(facts, packages, equal)
