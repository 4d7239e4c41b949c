"""Barrier functions ``h(a) ≈ log p₊(a)/p₋(a)`` and their exact gradients.

Four barriers share one protocol: the Gaussian closed forms (CAA's implied barrier and the quadratic
test oracle), linear logistic regression (ITI's), and kernel logistic regression on random features,
either the normalised polynomial count sketch (ODESteer's default) or random Fourier features.
Classifier-based barriers add the prior correction ``log((1-π)/π)`` to their value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import torch

from ._tensors import (
    NORM_EPS,
    DTypeName,
    check_classes,
    check_width,
    dtype_from_name,
    median_norm,
    tangent_vjp,
)
from .features import CountSketch, FourierFeatures, median_pairwise_distance
from .logistic import DEFAULT_MAX_ITER, DEFAULT_TOL, LogisticDiagnostics, fit_logistic

GradMode = Literal["analytic", "autograd"]
_FEATURE_CHUNK = 2048  # rows per feature-map call while fitting, bounds peak memory
_BANDWIDTH_ROWS = 1000  # subsample size of the median heuristic


@dataclass(frozen=True)
class FitInfo:
    """What a fit saw and how it went; written to ``config.json``.

    Attributes:
        n_pos: positive training rows.
        n_neg: negative training rows.
        prior: ``n_pos / (n_pos + n_neg)``; NaN for closed forms, which need no correction.
        median_norm: median ``||a||`` of the training activations, the unit of ``T``.
        logistic: diagnostics of the logistic regression, if one was fitted.
    """

    n_pos: int
    n_neg: int
    prior: float
    median_norm: float
    logistic: LogisticDiagnostics | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (NaN written as ``None``)."""
        out = asdict(self)
        out["prior"] = None if math.isnan(self.prior) else self.prior
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitInfo:
        """Inverse of :meth:`to_dict`."""
        logistic = data.get("logistic")
        prior = data.get("prior")
        return cls(
            n_pos=int(data["n_pos"]),
            n_neg=int(data["n_neg"]),
            prior=math.nan if prior is None else float(prior),
            median_norm=float(data["median_norm"]),
            logistic=None if logistic is None else LogisticDiagnostics(**logistic),
        )


@runtime_checkable
class Barrier(Protocol):
    """A fitted log density ratio ``h`` with its gradient.

    ``value`` and ``grad`` accept any leading shape ``[..., d]`` and return the compute dtype on the
    input's device.
    """

    d: int
    prior: float

    def fit(self, pos: Any, neg: Any) -> Barrier: ...

    def value(self, x: torch.Tensor) -> torch.Tensor: ...

    def grad(self, x: torch.Tensor) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, torch.Tensor]: ...

    def config(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _Fitted:
    """What a subclass's ``_fit`` returns."""

    state: dict[str, torch.Tensor]
    prior: float  # NaN when no prior correction applies
    logistic: LogisticDiagnostics | None = None


class _BarrierBase:
    """Shared bookkeeping: validation, flattening, per-device buffer cache, autograd path."""

    _grad_mode: GradMode = "analytic"
    _state_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, compute_dtype: DTypeName) -> None:
        self.compute_dtype = compute_dtype
        self._dtype = dtype_from_name(compute_dtype)
        self.d = 0
        self.prior = math.nan
        self.fit_info: FitInfo | None = None
        self._state: dict[str, torch.Tensor] = {}
        self._cache: dict[tuple[torch.device, torch.dtype], dict[str, Any]] = {}

    # -- subclass hooks -------------------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        raise NotImplementedError

    def _fit(self, pos: torch.Tensor, neg: torch.Tensor) -> _Fitted:
        raise NotImplementedError

    def _prepare(self, state: dict[str, torch.Tensor]) -> dict[str, Any]:
        return state

    def _value(self, x: torch.Tensor, bufs: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    def _grad(self, x: torch.Tensor, bufs: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    # -- public surface ---------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        """Whether ``fit`` (or a load) has set the barrier's buffers."""
        return self.fit_info is not None

    @property
    def log_prior_ratio(self) -> float:
        """``log((1-π)/π)``, the constant added to classifier logits; 0 for closed forms."""
        return 0.0 if math.isnan(self.prior) else math.log((1.0 - self.prior) / self.prior)

    def fit(self, pos: Any, neg: Any) -> _BarrierBase:
        """Fit on positive and negative activations ``[N±, d]`` (torch or numpy, any float dtype).

        Returns:
            ``self``, fitted.

        Raises:
            ValueError: on non-2-D input, unequal widths, fewer than 2 rows per class or
                non-finite values.
        """
        p, n = check_classes(pos, neg)
        fitted = self._fit(p.to(self._dtype), n.to(self._dtype))
        self.d = p.shape[1]
        self.prior = fitted.prior
        self._state = {k: v.detach().cpu() for k, v in fitted.state.items()}
        self._cache.clear()
        self.fit_info = FitInfo(
            n_pos=p.shape[0],
            n_neg=n.shape[0],
            prior=fitted.prior,
            median_norm=median_norm(p, n),
            logistic=fitted.logistic,
        )
        return self

    @torch.no_grad()
    def value(self, x: torch.Tensor) -> torch.Tensor:
        """``h(x)`` for ``x`` ``[..., d]``, prior correction included; shape ``[...]``."""
        flat, bufs = self._inputs(x)
        return self._value(flat, bufs).reshape(x.shape[:-1])

    @torch.no_grad()
    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """``∇h(x)`` for ``x`` ``[..., d]``; same shape, compute dtype, input's device."""
        flat, bufs = self._inputs(x)
        g = self._autograd(flat, bufs) if self._grad_mode == "autograd" else self._grad(flat, bufs)
        return g.reshape(x.shape)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The fitted buffers (CPU tensors), as saved in ``tensors.safetensors``."""
        self._require_fitted()
        return dict(self._state)

    def config(self) -> dict[str, Any]:
        """Class name, constructor arguments, ``d`` and the fit information, as plain JSON."""
        self._require_fitted()
        assert self.fit_info is not None
        return {
            "class": type(self).__name__,
            "params": self._params(),
            "d": self.d,
            "fit": self.fit_info.to_dict(),
        }

    def load_state(self, state: dict[str, torch.Tensor], d: int, fit: dict[str, Any]) -> None:
        """Restore buffers written by :meth:`state_dict` and the fit information from :meth:`config`."""
        missing = set(self._state_names) - set(state)
        if missing:
            raise ValueError(f"saved state of {type(self).__name__} lacks tensors {sorted(missing)}")
        self._state = {k: state[k].cpu() for k in self._state_names}
        self.d = int(d)
        self.fit_info = FitInfo.from_dict(fit)
        self.prior = self.fit_info.prior
        self._cache.clear()

    # -- internals ---------------------------------------------------------------------------------
    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(pos, neg) first")

    def _inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        self._require_fitted()
        check_width(x, self.d)
        flat = x.reshape(-1, self.d).to(self._dtype)  # [M, d]
        return flat, self._buffers(flat.device)

    def _buffers(self, device: torch.device) -> dict[str, Any]:
        key = (device, self._dtype)
        if key not in self._cache:
            # Buffers must be ordinary tensors: inference tensors cannot be saved for backward,
            # which the autograd gradient path needs.
            with torch.inference_mode(False), torch.no_grad():
                state = {
                    k: v.to(device=device, dtype=self._dtype) if v.is_floating_point() else v.to(device)
                    for k, v in self._state.items()
                }
                self._cache[key] = self._prepare(state)
        return self._cache[key]

    def _autograd(self, x: torch.Tensor, bufs: dict[str, Any]) -> torch.Tensor:
        with torch.inference_mode(False), torch.enable_grad():
            leaf = x.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(self._value(leaf, bufs).sum(), leaf)
        return g.detach()


def _logistic(
    zp: torch.Tensor, zn: torch.Tensor, c: float, max_iter: int, tol: float, extra: dict[str, torch.Tensor]
) -> _Fitted:
    """Fit the logistic regression of positives (label 1) against negatives on features ``z``."""
    z = torch.cat([zp, zn])  # [N, n]
    y = torch.cat([zp.new_ones(zp.shape[0]), zn.new_zeros(zn.shape[0])])
    fit = fit_logistic(z, y, C=c, max_iter=max_iter, tol=tol)
    prior = zp.shape[0] / (zp.shape[0] + zn.shape[0])
    return _Fitted(state={**extra, "w": fit.w, "b": fit.b}, prior=prior, logistic=fit.diagnostics)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x / (x.norm(dim=-1, keepdim=True) + NORM_EPS)


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"expected a positive number for `{name}`, got {value}")


class GaussianBarrier(_BarrierBase):
    """Closed-form log ratio of two isotropic Gaussians fitted to the classes (CAA's implied barrier).

    ``tied=True`` pools one variance (or uses the fixed ``variance``) and gives the linear
    ``h(a) = (μ₊-μ₋)·(a - (μ₊+μ₋)/2) / σ²``; ``tied=False`` keeps one variance per class and gives
    the quadratic log ratio. No prior correction applies.

    Example:
        >>> pos, neg = torch.randn(50, 4) + 1, torch.randn(50, 4) - 1
        >>> h = GaussianBarrier().fit(pos, neg)
        >>> bool(h.value(torch.ones(4)) > 0)
        True
    """

    _state_names = ("mu_pos", "mu_neg", "var_pos", "var_neg")

    def __init__(self, *, tied: bool = True, variance: float | None = None, compute_dtype: DTypeName = "float32"):
        super().__init__(compute_dtype)
        if variance is not None:
            if not tied:
                raise ValueError("`variance` can only be fixed with tied=True")
            _check_positive("variance", variance)
        self.tied = tied
        self.variance = variance

    def _params(self) -> dict[str, Any]:
        return {"tied": self.tied, "variance": self.variance, "compute_dtype": self.compute_dtype}

    def _fit(self, pos: torch.Tensor, neg: torch.Tensor) -> _Fitted:
        mu_p, mu_n = pos.mean(0), neg.mean(0)
        ss_p = ((pos - mu_p) ** 2).sum()
        ss_n = ((neg - mu_n) ** 2).sum()
        d = pos.shape[1]
        if self.tied:
            if self.variance is not None:
                var = torch.tensor(self.variance, dtype=pos.dtype)
            else:
                var = (ss_p + ss_n) / ((pos.shape[0] + neg.shape[0] - 2) * d)
            var_p = var_n = var
        else:
            var_p = ss_p / ((pos.shape[0] - 1) * d)
            var_n = ss_n / ((neg.shape[0] - 1) * d)
        return _Fitted({"mu_pos": mu_p, "mu_neg": mu_n, "var_pos": var_p, "var_neg": var_n}, math.nan)

    def _value(self, x: torch.Tensor, b: dict[str, Any]) -> torch.Tensor:
        if self.tied:
            diff = b["mu_pos"] - b["mu_neg"]
            return ((x - 0.5 * (b["mu_pos"] + b["mu_neg"])) @ diff) / b["var_pos"]
        dp = ((x - b["mu_pos"]) ** 2).sum(-1)
        dn = ((x - b["mu_neg"]) ** 2).sum(-1)
        return (
            -dp / (2 * b["var_pos"]) + dn / (2 * b["var_neg"]) - 0.5 * self.d * torch.log(b["var_pos"] / b["var_neg"])
        )

    def _grad(self, x: torch.Tensor, b: dict[str, Any]) -> torch.Tensor:
        if self.tied:
            return ((b["mu_pos"] - b["mu_neg"]) / b["var_pos"]).expand_as(x).clone()
        return -(x - b["mu_pos"]) / b["var_pos"] + (x - b["mu_neg"]) / b["var_neg"]


class LinearBarrier(_BarrierBase):
    """Linear logistic regression ``h(x) = w·x + b + log((1-π)/π)`` (ITI's barrier).

    With ``normalize=True`` the classifier sees ``x/||x||`` and the gradient turns with the state.

    Example:
        >>> pos, neg = torch.randn(50, 4) + 1, torch.randn(50, 4) - 1
        >>> h = LinearBarrier().fit(pos, neg)
        >>> h.grad(torch.zeros(2, 4)).shape
        torch.Size([2, 4])
    """

    _state_names = ("w", "b")

    def __init__(
        self,
        *,
        normalize: bool = False,
        C: float = 1.0,
        max_iter: int = DEFAULT_MAX_ITER,
        tol: float = DEFAULT_TOL,
        compute_dtype: DTypeName = "float32",
        device: str | None = None,
    ):
        super().__init__(compute_dtype)
        _check_positive("C", C)
        self.normalize = normalize
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.device = device

    def _params(self) -> dict[str, Any]:
        return {
            "normalize": self.normalize,
            "C": self.C,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "compute_dtype": self.compute_dtype,
            "device": self.device,
        }

    def _fit(self, pos: torch.Tensor, neg: torch.Tensor) -> _Fitted:
        if self.device is not None:
            pos, neg = pos.to(self.device), neg.to(self.device)
        if self.normalize:
            pos, neg = _normalize(pos), _normalize(neg)
        return _logistic(pos, neg, self.C, self.max_iter, self.tol, {})

    def _value(self, x: torch.Tensor, b: dict[str, Any]) -> torch.Tensor:
        z = _normalize(x) if self.normalize else x
        return z @ b["w"] + b["b"] + self.log_prior_ratio

    def _grad(self, x: torch.Tensor, b: dict[str, Any]) -> torch.Tensor:
        w = b["w"].expand_as(x)
        return tangent_vjp(x, w) if self.normalize else w.clone()


class SketchBarrier(_BarrierBase):
    """Kernel logistic regression on the normalised polynomial count sketch (ODESteer's default).

    ``φ`` approximates the kernel ``(γ x̂·ŷ + c)^p`` on directions ``x̂ = x/||x||``, so
    ``h(cx) = h(x)`` and ``∇h ⊥ x``. The defaults are the paper's fixed settings.

    Args:
        degree: polynomial degree ``p``.
        n_components: sketch size ``n``.
        gamma: kernel scale ``γ``.
        coef0: kernel offset ``c``.
        normalize: feed ``x/||x||`` (True) or raw ``x`` to the kernel.
        C: inverse L2 strength of the logistic regression.
        max_iter: L-BFGS iteration cap.
        tol: L-BFGS max-abs gradient tolerance.
        seed: seed of the hash draws.
        grad: ``"analytic"`` vector-Jacobian product or ``"autograd"`` through the FFTs.
        compute_dtype: ``"float32"`` or ``"float64"``.
        device: device of the fit (default: the activations' device).

    Example:
        >>> pos, neg = torch.randn(40, 8) + 1, torch.randn(40, 8) - 1
        >>> h = SketchBarrier(n_components=256).fit(pos, neg)
        >>> float((h.grad(pos) * pos).sum(-1).abs().max()) < 1e-4
        True
    """

    _state_names = ("bucket", "sign", "w", "b")

    def __init__(
        self,
        *,
        degree: int = 2,
        n_components: int = 8000,
        gamma: float = 0.1,
        coef0: float = 1.0,
        normalize: bool = True,
        C: float = 1.0,
        max_iter: int = DEFAULT_MAX_ITER,
        tol: float = DEFAULT_TOL,
        seed: int = 0,
        grad: GradMode = "analytic",
        compute_dtype: DTypeName = "float32",
        device: str | None = None,
    ):
        super().__init__(compute_dtype)
        if not isinstance(degree, int) or degree < 1:
            raise ValueError(f"expected a positive integer for `degree`, got {degree!r}")
        if not isinstance(n_components, int) or n_components < 2:
            raise ValueError(f"expected an integer >= 2 for `n_components`, got {n_components!r}")
        _check_positive("gamma", gamma)
        _check_positive("C", C)
        if coef0 < 0:
            raise ValueError(f"expected a non-negative number for `coef0`, got {coef0}")
        if grad not in ("analytic", "autograd"):
            raise ValueError(f"expected 'analytic' or 'autograd' for `grad`, got {grad!r}")
        self.degree = degree
        self.n_components = n_components
        self.gamma = gamma
        self.coef0 = coef0
        self.normalize = normalize
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed
        self._grad_mode = grad
        self.device = device

    def _params(self) -> dict[str, Any]:
        return {
            "degree": self.degree,
            "n_components": self.n_components,
            "gamma": self.gamma,
            "coef0": self.coef0,
            "normalize": self.normalize,
            "C": self.C,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "seed": self.seed,
            "grad": self._grad_mode,
            "compute_dtype": self.compute_dtype,
            "device": self.device,
        }

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        xh = _normalize(x) if self.normalize else x
        z = math.sqrt(self.gamma) * xh
        if self.coef0 != 0:
            z = torch.cat([z, z.new_full((z.shape[0], 1), math.sqrt(self.coef0))], dim=1)  # [M, d+1]
        return z

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map ``φ(x)`` for ``x`` ``[..., d]``, shape ``[..., n]``."""
        flat, bufs = self._inputs(x)
        return bufs["sketch"].features(self._augment(flat)).reshape(*x.shape[:-1], self.n_components)

    def _fit(self, pos: torch.Tensor, neg: torch.Tensor) -> _Fitted:
        gen = torch.Generator().manual_seed(self.seed)
        m = pos.shape[1] + (1 if self.coef0 != 0 else 0)
        sketch = CountSketch.draw(self.degree, m, self.n_components, gen)
        device = torch.device(self.device) if self.device is not None else pos.device
        on_device = sketch.to(device, self._dtype)

        def phi(a: torch.Tensor) -> torch.Tensor:
            a = a.to(device)
            return torch.cat([on_device.features(self._augment(c)) for c in a.split(_FEATURE_CHUNK)])

        hashes = {"bucket": sketch.bucket, "sign": sketch.sign.to(torch.int8)}
        return _logistic(phi(pos), phi(neg), self.C, self.max_iter, self.tol, hashes)

    def _prepare(self, state: dict[str, torch.Tensor]) -> dict[str, Any]:
        w = state["w"]
        sketch = CountSketch(state["bucket"], state["sign"].to(w.dtype), self.n_components)
        return {"sketch": sketch, "w": w, "b": state["b"], "w_fft": torch.fft.rfft(w, n=self.n_components)}

    def _value(self, x: torch.Tensor, b: dict[str, Any]) -> torch.Tensor:
        return b["sketch"].features(self._augment(x)) @ b["w"] + b["b"] + self.log_prior_ratio

    def _grad(self, x: torch.Tensor, b: dict[str, Any]) -> torch.Tensor:
        gz = b["sketch"].vjp(self._augment(x), b["w_fft"])[:, : self.d] * math.sqrt(self.gamma)  # [M, d]
        return tangent_vjp(x, gz) if self.normalize else gz


class RFFBarrier(_BarrierBase):
    """Kernel logistic regression on random Fourier features of a Gaussian kernel.

    The bandwidth ``σ`` defaults to the median pairwise distance of a seeded subsample of at most
    1,000 training rows (after normalisation when ``normalize=True``).

    Example:
        >>> pos, neg = torch.randn(40, 8) + 1, torch.randn(40, 8) - 1
        >>> h = RFFBarrier(n_components=256).fit(pos, neg)
        >>> bool(h.value(pos).mean() > h.value(neg).mean())
        True
    """

    _state_names = ("weight", "phase", "w", "b")

    def __init__(
        self,
        *,
        n_components: int = 8000,
        bandwidth: float | None = None,
        normalize: bool = True,
        C: float = 1.0,
        max_iter: int = DEFAULT_MAX_ITER,
        tol: float = DEFAULT_TOL,
        seed: int = 0,
        grad: GradMode = "analytic",
        compute_dtype: DTypeName = "float32",
        device: str | None = None,
    ):
        super().__init__(compute_dtype)
        if not isinstance(n_components, int) or n_components < 1:
            raise ValueError(f"expected a positive integer for `n_components`, got {n_components!r}")
        if bandwidth is not None:
            _check_positive("bandwidth", bandwidth)
        _check_positive("C", C)
        if grad not in ("analytic", "autograd"):
            raise ValueError(f"expected 'analytic' or 'autograd' for `grad`, got {grad!r}")
        self.n_components = n_components
        self.bandwidth = bandwidth
        self.normalize = normalize
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed
        self._grad_mode = grad
        self.device = device

    def _params(self) -> dict[str, Any]:
        return {
            "n_components": self.n_components,
            "bandwidth": self.bandwidth,
            "normalize": self.normalize,
            "C": self.C,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "seed": self.seed,
            "grad": self._grad_mode,
            "compute_dtype": self.compute_dtype,
            "device": self.device,
        }

    def _fit(self, pos: torch.Tensor, neg: torch.Tensor) -> _Fitted:
        gen = torch.Generator().manual_seed(self.seed)
        device = torch.device(self.device) if self.device is not None else pos.device
        zp = _normalize(pos) if self.normalize else pos
        zn = _normalize(neg) if self.normalize else neg
        sigma = self.bandwidth
        if sigma is None:
            sigma = median_pairwise_distance(torch.cat([zp, zn]).cpu(), _BANDWIDTH_ROWS, gen)
            if not sigma > 0:
                raise ValueError("cannot set the RFF bandwidth by the median heuristic: rows coincide")
        rff = FourierFeatures.draw(pos.shape[1], self.n_components, sigma, gen)
        on_device = rff.to(device, self._dtype)

        def phi(a: torch.Tensor) -> torch.Tensor:
            return torch.cat([on_device.features(c) for c in a.to(device).split(_FEATURE_CHUNK)])

        draws = {"weight": rff.weight.to(self._dtype), "phase": rff.phase.to(self._dtype)}
        return _logistic(phi(zp), phi(zn), self.C, self.max_iter, self.tol, draws)

    def _prepare(self, state: dict[str, torch.Tensor]) -> dict[str, Any]:
        return {"rff": FourierFeatures(state["weight"], state["phase"]), "w": state["w"], "b": state["b"]}

    def _value(self, x: torch.Tensor, b: dict[str, Any]) -> torch.Tensor:
        z = _normalize(x) if self.normalize else x
        return b["rff"].features(z) @ b["w"] + b["b"] + self.log_prior_ratio

    def _grad(self, x: torch.Tensor, b: dict[str, Any]) -> torch.Tensor:
        z = _normalize(x) if self.normalize else x
        gz = b["rff"].vjp(z, b["w"])
        return tangent_vjp(x, gz) if self.normalize else gz


BARRIERS: dict[str, type[_BarrierBase]] = {
    cls.__name__: cls for cls in (GaussianBarrier, LinearBarrier, SketchBarrier, RFFBarrier)
}
