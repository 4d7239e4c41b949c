"""Steering methods: ODESteer and the one-step baselines, behind one interface.

Every method maps activations ``[..., d]`` to steered activations of the same shape, dtype and
device. ``T`` is the strength: the integration time of ODESteer (the arc length travelled, for a
unit field), or the multiplier of a constant direction.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import torch

from ._tensors import check_classes, check_width, median_norm
from .barriers import Barrier, FitInfo, GaussianBarrier, LinearBarrier, SketchBarrier
from .io import barrier_from_parts, read_artifact, write_artifact

Solver = Literal["euler", "midpoint", "rk4"]
SOLVERS: tuple[str, ...] = ("euler", "midpoint", "rk4")
FIELD_EPS = 1e-10  # guards the unit field where the gradient vanishes


@runtime_checkable
class Steerer(Protocol):
    """A fitted steering method.

    ``steer`` accepts ``[..., d]``, never modifies its input, returns the input's dtype and
    device, treats rows independently and never synchronises host and device.
    """

    T: float
    d: int

    def fit(self, pos: Any, neg: Any) -> Steerer: ...

    def steer(self, x: torch.Tensor, T: float | None = None) -> torch.Tensor: ...

    def value(self, x: torch.Tensor) -> torch.Tensor: ...

    def displacement(self, T: float | None = None) -> float: ...

    def save(self, path: str | Path) -> None: ...

    def fingerprint(self) -> str: ...


def _check_T(T: Any, field: str = "T") -> float:
    if isinstance(T, bool) or not isinstance(T, int | float) or not math.isfinite(T):
        raise ValueError(f"expected a finite real number for `{field}`, got {T!r}")
    return float(T)


class _SteererBase:
    """Strength handling, provenance and persistence common to all steerers."""

    def __init__(self, T: float) -> None:
        self.T = _check_T(T)
        self.d = 0
        self.fit_info: FitInfo | None = None
        self.provenance: dict[str, Any] = {}

    def _strength(self, T: float | None) -> float:
        return self.T if T is None else _check_T(T)

    def _require_fitted(self) -> None:
        if self.fit_info is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(pos, neg) first")

    def _params(self) -> dict[str, Any]:
        raise NotImplementedError

    def _tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def fingerprint(self) -> str:
        """A short hash of the class, parameters and fitted tensors: equal for steerers that steer alike.

        Run folders record it, so a rerun can tell that a condition's steerer was replaced.
        """
        self._require_fitted()
        digest = hashlib.sha256(type(self).__name__.encode())
        digest.update(json.dumps([self._params(), self._extra_config()], sort_keys=True, default=str).encode())
        for name, tensor in sorted(self._tensors().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().double().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def save(self, path: str | Path) -> None:
        """Save to directory ``path`` (``config.json`` + ``tensors.safetensors``).

        ``load_steerer(path)`` (or ``<Class>.load(path)``) restores it; the reload steers
        bit-identically on the same device and dtype.
        """
        self._require_fitted()
        assert self.fit_info is not None
        config = {
            "kind": "steerer",
            "class": type(self).__name__,
            "params": self._params(),
            "d": self.d,
            "fit": self.fit_info.to_dict(),
            "provenance": self.provenance,
            **self._extra_config(),
        }
        write_artifact(path, config, self._tensors())

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Load a steerer of this class saved with :meth:`save`."""
        config, tensors = read_artifact(path)
        if config.get("class") != cls.__name__:
            raise ValueError(f"{path} holds a {config.get('class')!r}, expected {cls.__name__!r}")
        return cls.from_parts(config, tensors)

    @classmethod
    def from_parts(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Any:
        raise NotImplementedError


class ODESteer(_SteererBase):
    """Steer by integrating ``ȧ = ∇h(a)/||∇h(a)||`` over ``[0, T]`` in ``steps`` equal steps.

    Args:
        barrier: the barrier ``h``; ``None`` means ``SketchBarrier()`` with the paper's settings.
        T: integration time. For the unit field it is the distance travelled, in residual-stream
            units, so compare it with ``fit_info.median_norm``.
        steps: number of solver steps ``K``.
        solver: ``"euler"``, ``"midpoint"`` or ``"rk4"``.
        normalize_field: use the unit field (True) or plain gradient ascent ``v = ∇h``.

    Example:
        >>> pos, neg = torch.randn(64, 8) + 1, torch.randn(64, 8) - 1
        >>> s = ODESteer(SketchBarrier(n_components=512), T=0.5).fit(pos, neg)
        >>> h = s.h_trajectory(neg[:4])
        >>> bool((h[-1] > h[0]).all())
        True
    """

    def __init__(
        self,
        barrier: Barrier | None = None,
        *,
        T: float = 1.0,
        steps: int = 10,
        solver: Solver = "euler",
        normalize_field: bool = True,
    ) -> None:
        super().__init__(T)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"expected a positive integer for `steps`, got {steps!r}")
        if solver not in SOLVERS:
            raise ValueError(f"expected one of {SOLVERS} for `solver`, got {solver!r}")
        if barrier is not None and not isinstance(barrier, Barrier):
            raise TypeError(f"expected a Barrier for `barrier`, got {type(barrier).__name__}")
        self.barrier: Barrier = SketchBarrier() if barrier is None else barrier
        self.steps = steps
        self.solver: Solver = solver
        self.normalize_field = normalize_field
        if getattr(self.barrier, "fit_info", None) is not None:
            self._adopt_barrier()

    def _adopt_barrier(self) -> None:
        self.d = self.barrier.d
        self.fit_info = self.barrier.fit_info

    def fit(self, pos: Any, neg: Any) -> ODESteer:
        """Fit the barrier on positive and negative activations ``[N±, d]``.

        Returns:
            ``self``, fitted.
        """
        self.barrier.fit(pos, neg)
        self._adopt_barrier()
        return self

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        """``v(x)``: the unit gradient direction, or the raw gradient with ``normalize_field=False``."""
        g = self.barrier.grad(x)
        if self.normalize_field:
            g = g / (g.norm(dim=-1, keepdim=True) + FIELD_EPS)
        return g

    def _step(self, a: torch.Tensor, dt: float) -> torch.Tensor:
        v = self.vector_field
        if self.solver == "euler":
            return a + dt * v(a)
        if self.solver == "midpoint":
            return a + dt * v(a + (dt / 2) * v(a))
        k1 = v(a)
        k2 = v(a + (dt / 2) * k1)
        k3 = v(a + (dt / 2) * k2)
        k4 = v(a + dt * k3)
        return a + (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)

    def _start(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fitted()
        check_width(x, self.d)
        work = torch.promote_types(x.dtype, torch.float32)
        return x.to(work) if x.dtype != work else x

    @torch.no_grad()
    def steer(self, x: torch.Tensor, T: float | None = None) -> torch.Tensor:
        """Integrate from ``x`` ``[..., d]`` for time ``T`` (default ``self.T``).

        ``T=0`` returns a copy of ``x``; negative ``T`` moves towards the negative class.
        """
        T = self._strength(T)
        if T == 0:
            return x.clone()
        a = self._start(x)
        dt = T / self.steps
        for _ in range(self.steps):
            a = self._step(a, dt)
        return a.to(x.dtype)

    @torch.no_grad()
    def trajectory(self, x: torch.Tensor, T: float | None = None) -> torch.Tensor:
        """The ``K+1`` solver states from ``x`` to the steered point, shape ``[K+1, ..., d]``."""
        T = self._strength(T)
        a = self._start(x)
        dt = T / self.steps
        states = [a]
        for _ in range(self.steps):
            a = self._step(a, dt)
            states.append(a)
        return torch.stack(states)

    @torch.no_grad()
    def h_trajectory(self, x: torch.Tensor, T: float | None = None) -> torch.Tensor:
        """``h`` along :meth:`trajectory`, shape ``[K+1, ...]``."""
        return self.barrier.value(self.trajectory(x, T))

    @torch.no_grad()
    def value(self, x: torch.Tensor) -> torch.Tensor:
        """The barrier ``h(x)``."""
        return self.barrier.value(x)

    def displacement(self, T: float | None = None) -> float:
        """Distance travelled: ``|T|`` for the unit field.

        Raises:
            ValueError: with ``normalize_field=False``, where the distance depends on the state.
        """
        if not self.normalize_field:
            raise ValueError("displacement is state-dependent with normalize_field=False; use the unit field")
        return abs(self._strength(T))

    def _params(self) -> dict[str, Any]:
        return {
            "T": self.T,
            "steps": self.steps,
            "solver": self.solver,
            "normalize_field": self.normalize_field,
        }

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {f"barrier.{k}": v for k, v in self.barrier.state_dict().items()}

    def _extra_config(self) -> dict[str, Any]:
        return {"barrier": self.barrier.config()}

    @classmethod
    def from_parts(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> ODESteer:
        """Rebuild from a saved ``config.json`` and its tensors."""
        state = {k.removeprefix("barrier."): v for k, v in tensors.items() if k.startswith("barrier.")}
        steerer = cls(barrier_from_parts(config["barrier"], state), **config["params"])
        steerer.provenance = dict(config.get("provenance", {}))
        return steerer


class StepODESteer(ODESteer):
    """One Euler step ``a + T v(a)`` with the nonlinear barrier: the ablation of multiple steps.

    Equal to ``ODESteer(barrier, T=T, steps=1, solver="euler")``.

    Example:
        >>> pos, neg = torch.randn(64, 8) + 1, torch.randn(64, 8) - 1
        >>> s = StepODESteer(SketchBarrier(n_components=512), T=0.5).fit(pos, neg)
        >>> s.steer(neg[:2]).shape
        torch.Size([2, 8])
    """

    def __init__(self, barrier: Barrier | None = None, *, T: float = 1.0) -> None:
        super().__init__(barrier, T=T, steps=1, solver="euler", normalize_field=True)

    def _params(self) -> dict[str, Any]:
        return {"T": self.T}


class _ConstantSteerer(_SteererBase):
    """A steerer with a constant field ``a + T·direction`` and a linear score ``a·w + b`` as ``h``."""

    _tensor_names: ClassVar[tuple[str, ...]] = ("direction", "score_weight", "score_bias")

    def __init__(self, T: float = 1.0) -> None:
        super().__init__(T)
        self._state: dict[str, torch.Tensor] = {}
        self._cache: dict[torch.device, dict[str, torch.Tensor]] = {}
        self._direction_norm = math.nan

    def _set_state(self, direction: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self._state = {
            "direction": direction.detach().double().cpu(),
            "score_weight": weight.detach().double().cpu(),
            "score_bias": bias.detach().double().cpu().reshape(()),
        }
        self.d = direction.shape[0]
        self._direction_norm = float(self._state["direction"].norm())
        self._cache.clear()

    @property
    def direction(self) -> torch.Tensor:
        """The constant field (float64, CPU)."""
        self._require_fitted()
        return self._state["direction"]

    def _buffers(self, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        key = (device, dtype)
        if key not in self._cache:
            with torch.inference_mode(False), torch.no_grad():
                self._cache[key] = {k: v.to(device=device, dtype=dtype) for k, v in self._state.items()}
        return self._cache[key]

    @torch.no_grad()
    def steer(self, x: torch.Tensor, T: float | None = None) -> torch.Tensor:
        """``x + T·direction`` for ``x`` ``[..., d]``, computed in at least float32."""
        T = self._strength(T)
        self._require_fitted()
        check_width(x, self.d)
        if T == 0:
            return x.clone()
        work = torch.promote_types(x.dtype, torch.float32)
        direction = self._buffers(x.device, work)["direction"]
        return (x.to(work) + T * direction).to(x.dtype)

    @torch.no_grad()
    def value(self, x: torch.Tensor) -> torch.Tensor:
        """The method's implied linear score ``x·w + b`` (its barrier), shape ``[...]``."""
        self._require_fitted()
        check_width(x, self.d)
        work = torch.promote_types(x.dtype, torch.float32)
        b = self._buffers(x.device, work)
        return x.to(work) @ b["score_weight"] + b["score_bias"]

    def displacement(self, T: float | None = None) -> float:
        """``|T|·||direction||``."""
        self._require_fitted()
        return abs(self._strength(T)) * self._direction_norm

    def _params(self) -> dict[str, Any]:
        return {"T": self.T}

    def _tensors(self) -> dict[str, torch.Tensor]:
        return dict(self._state)

    @classmethod
    def from_parts(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Any:
        """Rebuild from a saved ``config.json`` and its tensors."""
        missing = set(cls._tensor_names) - set(tensors)
        if missing:
            raise ValueError(f"saved {cls.__name__} lacks tensors {sorted(missing)}")
        steerer = cls(**config["params"])
        steerer._set_state(tensors["direction"], tensors["score_weight"], tensors["score_bias"])
        steerer.fit_info = FitInfo.from_dict(config["fit"])
        steerer.provenance = dict(config.get("provenance", {}))
        return steerer


class CAA(_ConstantSteerer):
    """Contrastive activation addition: ``a + T(μ₊ - μ₋)`` with the raw mean difference.

    ``T`` is a multiplier, so the distance travelled is ``T·||μ₊ - μ₋||``. Its ``value`` is the
    unit-variance tied-Gaussian log ratio ``(μ₊-μ₋)·(a - (μ₊+μ₋)/2)``.

    Example:
        >>> s = CAA(T=1.0).fit(torch.ones(4, 3), torch.zeros(4, 3))
        >>> s.steer(torch.zeros(1, 3))
        tensor([[1., 1., 1.]])
    """

    def fit(self, pos: Any, neg: Any) -> CAA:
        """Fit the class means on ``[N±, d]`` activations."""
        p, n = check_classes(pos, neg)
        gauss = GaussianBarrier(variance=1.0, compute_dtype="float64").fit(p, n)
        mu_p, mu_n = gauss.state_dict()["mu_pos"], gauss.state_dict()["mu_neg"]
        diff = mu_p - mu_n
        self._set_state(diff, diff, -(diff @ (0.5 * (mu_p + mu_n))))
        self.fit_info = gauss.fit_info
        return self


class ITI(_ConstantSteerer):
    """Inference-time intervention in residual-stream form: ``a + T w/||w||``.

    ``w`` is the weight of an L2 logistic regression on raw activations, and ``value`` is its
    prior-corrected logit, the barrier of ``LinearBarrier``.

    Args:
        T: distance travelled.
        C: inverse L2 strength.
        max_iter: L-BFGS iteration cap.
        compute_dtype: dtype of the logistic regression.
        device: device of the fit.

    Example:
        >>> s = ITI(T=2.0).fit(torch.randn(32, 3) + 2, torch.randn(32, 3) - 2)
        >>> round(s.displacement(), 6)
        2.0
    """

    def __init__(
        self,
        T: float = 1.0,
        *,
        C: float = 1.0,
        max_iter: int = 1000,
        compute_dtype: Literal["float32", "float64"] = "float32",
        device: str | None = None,
    ) -> None:
        super().__init__(T)
        self.C = C
        self.max_iter = max_iter
        self.compute_dtype = compute_dtype
        self.device = device

    def fit(self, pos: Any, neg: Any) -> ITI:
        """Fit the logistic regression on ``[N±, d]`` activations."""
        lin = LinearBarrier(C=self.C, max_iter=self.max_iter, compute_dtype=self.compute_dtype, device=self.device)
        lin.fit(pos, neg)
        w = lin.state_dict()["w"].double()
        self._set_state(w / w.norm(), w, lin.state_dict()["b"].double() + lin.log_prior_ratio)
        self.fit_info = lin.fit_info
        return self

    def _params(self) -> dict[str, Any]:
        return {
            "T": self.T,
            "C": self.C,
            "max_iter": self.max_iter,
            "compute_dtype": self.compute_dtype,
            "device": self.device,
        }


class RepE(_ConstantSteerer):
    """Representation engineering: ``a + T u``, ``u`` the first principal component of paired differences.

    Row ``i`` of ``pos`` and of ``neg`` must come from the same prompt. Each pair's difference is
    taken in a random order (``a⁺ - a⁻`` or ``a⁻ - a⁺``, drawn with ``seed``), as in the RepE
    paper: the mean shift between the classes then shows up as variance, which the principal
    component keeps. Centring same-order differences would remove exactly that shift and leave
    the noise's main axis. The sign of ``u`` is fixed so that positives project higher. ``value``
    is the projection ``u·(a - (μ₊+μ₋)/2)``.

    Args:
        T: distance travelled (``u`` has unit norm).
        seed: seed of the random pair orders.

    Example:
        >>> neg = torch.randn(16, 3)
        >>> s = RepE().fit(neg + torch.tensor([1.0, 0, 0]) * (1 + torch.rand(16, 1)), neg)
        >>> bool(s.direction[0] > 0.9)
        True
    """

    def __init__(self, T: float = 1.0, *, seed: int = 0) -> None:
        super().__init__(T)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"expected an integer for `seed`, got {seed!r}")
        self.seed = seed

    def fit(self, pos: Any, neg: Any) -> RepE:
        """Fit on paired ``[N, d]`` activations; unequal counts are truncated with a warning."""
        p, n = check_classes(pos, neg)
        if p.shape[0] != n.shape[0]:
            k = min(p.shape[0], n.shape[0])
            warnings.warn(
                f"RepE needs paired rows; truncating `pos` ({p.shape[0]}) and `neg` ({n.shape[0]}) to {k}",
                stacklevel=2,
            )
            p, n = p[:k], n[:k]
        p, n = p.double(), n.double()
        g = torch.Generator().manual_seed(self.seed)
        order = torch.randint(0, 2, (p.shape[0], 1), generator=g, dtype=torch.float64) * 2 - 1  # [N, 1] of ±1
        delta = order * (p - n)  # [N, d]
        delta = delta - delta.mean(0)
        u = torch.linalg.svd(delta, full_matrices=False).Vh[0]  # [d]
        mean_diff = p.mean(0) - n.mean(0)
        if float(u @ mean_diff) < 0:
            u = -u
        self._set_state(u, u, -(u @ (0.5 * (p.mean(0) + n.mean(0)))))
        self.fit_info = FitInfo(n_pos=p.shape[0], n_neg=n.shape[0], prior=math.nan, median_norm=median_norm(p, n))
        return self

    def _params(self) -> dict[str, Any]:
        return {"T": self.T, "seed": self.seed}


STEERERS: dict[str, Any] = {cls.__name__: cls for cls in (ODESteer, StepODESteer, CAA, ITI, RepE)}
