"""Saving and loading barriers and steerers: a directory with ``config.json`` and the tensors.

Tensors go to ``tensors.safetensors``; without the ``safetensors`` package they go to ``tensors.pt``
(``torch.save``), which is read back with ``weights_only=True``.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .barriers import Barrier
    from .methods import Steerer

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
TENSORS_FILE = "tensors.safetensors"
FALLBACK_TENSORS_FILE = "tensors.pt"


def versions() -> dict[str, str]:
    """Versions of the package, torch, transformers and Python, recorded in every artefact."""
    from importlib import metadata

    def _version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "theory_of_space": _version("theory-of-space"),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "python": platform.python_version(),
    }


def write_artifact(path: str | Path, config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Path:
    """Write ``config.json`` and the tensors into directory ``path`` (created if needed).

    Args:
        path: target directory.
        config: JSON-serialisable description; ``format_version`` and ``versions`` are added.
        tensors: named CPU or device tensors; they are written contiguous, from the CPU.

    Returns:
        The directory written.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    full = {"format_version": FORMAT_VERSION, **config, "versions": versions()}
    (out / CONFIG_FILE).write_text(json.dumps(full, indent=2, sort_keys=True, allow_nan=False) + "\n")
    # safetensors refuses views that share storage, so each tensor gets its own contiguous copy.
    plain = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    try:
        from safetensors.torch import save_file
    except ImportError:
        torch.save(plain, out / FALLBACK_TENSORS_FILE)
    else:
        save_file(plain, str(out / TENSORS_FILE), metadata={"format_version": str(FORMAT_VERSION)})
    return out


def read_artifact(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read what :func:`write_artifact` wrote.

    Raises:
        FileNotFoundError: when ``path`` has no ``config.json`` or no tensor file.
        ValueError: when the format version is newer than this package understands.
    """
    src = Path(path)
    cfg_file = src / CONFIG_FILE
    if not cfg_file.is_file():
        raise FileNotFoundError(f"no {CONFIG_FILE} in {src}; expected a directory written by save()")
    config = json.loads(cfg_file.read_text())
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"unsupported `format_version` {version!r} in {cfg_file}; expected <= {FORMAT_VERSION}")
    if (src / TENSORS_FILE).is_file():
        from safetensors.torch import load_file

        # Copy out of the memory map: mapped tensors can be misaligned, and some CPU kernels round
        # differently on misaligned data, which would break bit-for-bit reloads.
        tensors = {k: v.clone() for k, v in load_file(str(src / TENSORS_FILE)).items()}
    elif (src / FALLBACK_TENSORS_FILE).is_file():
        tensors = torch.load(src / FALLBACK_TENSORS_FILE, weights_only=True)
    else:
        raise FileNotFoundError(f"no {TENSORS_FILE} or {FALLBACK_TENSORS_FILE} in {src}")
    return config, tensors


def barrier_from_parts(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Barrier:
    """Rebuild a fitted barrier from its ``config()`` and ``state_dict()``.

    Raises:
        ValueError: for an unknown barrier class.
    """
    from .barriers import BARRIERS

    name = config.get("class")
    if name not in BARRIERS:
        raise ValueError(f"unknown barrier class {name!r}; expected one of {sorted(BARRIERS)}")
    barrier = BARRIERS[name](**config["params"])
    barrier.load_state(tensors, config["d"], config["fit"])
    return barrier


def save_barrier(barrier: Barrier, path: str | Path, provenance: dict[str, Any] | None = None) -> Path:
    """Save a fitted barrier to directory ``path``.

    Example:
        >>> from theory_of_space.steering import GaussianBarrier
        >>> h = GaussianBarrier().fit(torch.randn(10, 4), torch.randn(10, 4))
        >>> import tempfile; d = save_barrier(h, tempfile.mkdtemp())
        >>> type(load_barrier(d)).__name__
        'GaussianBarrier'
    """
    config = {"kind": "barrier", **barrier.config(), "provenance": provenance or {}}
    return write_artifact(path, config, barrier.state_dict())


def load_barrier(path: str | Path) -> Barrier:
    """Load a barrier saved by :func:`save_barrier`; it reproduces outputs bit for bit."""
    config, tensors = read_artifact(path)
    if config.get("kind") != "barrier":
        raise ValueError(f"{path} holds a {config.get('kind')!r}, expected a 'barrier'")
    return barrier_from_parts(config, tensors)


def load_steerer(path: str | Path) -> Steerer:
    """Load any steerer saved with ``save``, dispatching on the saved class name.

    Example:
        >>> from theory_of_space.steering import CAA
        >>> s = CAA(T=2.0).fit(torch.randn(10, 4) + 1, torch.randn(10, 4))
        >>> import tempfile; d = tempfile.mkdtemp(); s.save(d)
        >>> load_steerer(d).T
        2.0
    """
    from .methods import STEERERS

    config, tensors = read_artifact(path)
    if config.get("kind") != "steerer":
        raise ValueError(f"{path} holds a {config.get('kind')!r}, expected a 'steerer'")
    name = config.get("class")
    if name not in STEERERS:
        raise ValueError(f"unknown steerer class {name!r} in {path}; expected one of {sorted(STEERERS)}")
    return STEERERS[name].from_parts(config, tensors)
