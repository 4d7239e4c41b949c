"""Random feature maps of the kernel barriers: the polynomial count sketch and random Fourier features.

Both maps are pure functions of fixed buffers, so a barrier can move them between devices and
dtypes freely. Each offers ``features`` (the map) and ``vjp`` (the exact vector-Jacobian product of
``w·φ`` with respect to the map's input), which is how the barriers get their analytic gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class CountSketch:
    """Polynomial count sketch (TensorSketch) of ``z ↦ z^{⊗p}``.

    ``E <φ(z), φ(z')> = (z·z')^p`` with no ``1/sqrt(n)`` factor.

    Attributes:
        bucket: int64 ``[p, m]`` hash of each input coordinate into ``0..n-1``.
        sign: ``[p, m]`` random signs ±1, in the compute dtype.
        n: sketch size.
    """

    bucket: torch.Tensor
    sign: torch.Tensor
    n: int
    flat_index: torch.Tensor = field(init=False, repr=False)  # [p*m], bucket j offset by j*n

    def __post_init__(self) -> None:
        offsets = torch.arange(self.bucket.shape[0], device=self.bucket.device).unsqueeze(1) * self.n  # [p, 1]
        object.__setattr__(self, "flat_index", (self.bucket + offsets).reshape(-1))

    @classmethod
    def draw(cls, degree: int, m: int, n: int, generator: torch.Generator) -> CountSketch:
        """Draw ``degree`` independent bucket maps and sign vectors for inputs of width ``m``."""
        bucket = torch.randint(0, n, (degree, m), generator=generator, dtype=torch.int64)
        sign = torch.randint(0, 2, (degree, m), generator=generator, dtype=torch.int64) * 2 - 1
        return cls(bucket=bucket, sign=sign.to(torch.float64), n=n)

    def to(self, device: torch.device, dtype: torch.dtype) -> CountSketch:
        """Copy to ``device`` with signs in ``dtype``."""
        return CountSketch(self.bucket.to(device), self.sign.to(device=device, dtype=dtype), self.n)

    def sketch_ffts(self, z: torch.Tensor) -> torch.Tensor:
        """Real FFTs of the ``p`` count sketches of ``z`` ``[M, m]``, shape ``[M, p, n//2+1]``."""
        p, m = self.bucket.shape
        vals = (z.unsqueeze(1) * self.sign).reshape(z.shape[0], p * m)  # [M, p*m]
        counts = z.new_zeros(z.shape[0], p * self.n).index_add(1, self.flat_index, vals)  # [M, p*n]
        return torch.fft.rfft(counts.view(z.shape[0], p, self.n), n=self.n, dim=-1)

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """``φ(z)`` for ``z`` ``[M, m]``, shape ``[M, n]``."""
        f = self.sketch_ffts(z)  # [M, p, n//2+1]
        return torch.fft.irfft(f.prod(dim=1), n=self.n, dim=-1)

    def vjp(self, z: torch.Tensor, w_fft: torch.Tensor) -> torch.Tensor:
        """Gradient of ``w·φ(z)`` with respect to ``z``, shape ``[M, m]``.

        ``φ`` is the circular convolution of the sketches, so the derivative with respect to
        sketch ``j`` is the circular cross-correlation of ``w`` with the convolution of the
        others; a gather then pulls it back through the hash.

        Args:
            z: inputs ``[M, m]``.
            w_fft: ``rfft(w, n)``, shape ``[n//2+1]``.
        """
        f = self.sketch_ffts(z)  # [M, p, n//2+1]
        p = f.shape[1]
        q = f.flip(1) if p == 2 else _products_of_others(f)  # [M, p, n//2+1], product over k != j
        g = torch.fft.irfft(q.conj() * w_fft, n=self.n, dim=-1)  # [M, p, n]
        pulled = g.reshape(z.shape[0], p * self.n)[:, self.flat_index]  # [M, p*m]
        return (pulled.view(z.shape[0], p, -1) * self.sign).sum(dim=1)


def _products_of_others(f: torch.Tensor) -> torch.Tensor:
    """For ``f`` ``[M, p, k]``, the product over ``j' != j`` for each ``j``, by prefix and suffix products."""
    ones = torch.ones_like(f[:, 0])
    prefix = [ones]
    for j in range(f.shape[1] - 1):
        prefix.append(prefix[-1] * f[:, j])
    others = []
    suffix = ones
    for j in range(f.shape[1] - 1, -1, -1):
        others.append(prefix[j] * suffix)
        suffix = suffix * f[:, j]
    return torch.stack(others[::-1], dim=1)


@dataclass(frozen=True)
class FourierFeatures:
    """Random Fourier features ``φ(x) = sqrt(2/n) cos(W x + β)`` of a Gaussian kernel.

    Attributes:
        weight: ``[n, d]`` frequencies with rows drawn from ``N(0, σ^{-2} I)``.
        phase: ``[n]`` phases drawn from ``U[0, 2π)``.
    """

    weight: torch.Tensor
    phase: torch.Tensor

    @classmethod
    def draw(cls, d: int, n: int, bandwidth: float, generator: torch.Generator) -> FourierFeatures:
        """Draw frequencies and phases for a kernel of the given bandwidth σ."""
        weight = torch.randn(n, d, generator=generator, dtype=torch.float64) / bandwidth
        phase = torch.rand(n, generator=generator, dtype=torch.float64) * (2 * math.pi)
        return cls(weight=weight, phase=phase)

    def to(self, device: torch.device, dtype: torch.dtype) -> FourierFeatures:
        """Copy to ``device`` in ``dtype``."""
        return FourierFeatures(self.weight.to(device, dtype), self.phase.to(device, dtype))

    @property
    def n(self) -> int:
        """Number of features."""
        return self.weight.shape[0]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``φ(x)`` for ``x`` ``[M, d]``, shape ``[M, n]``."""
        return math.sqrt(2.0 / self.n) * torch.cos(x @ self.weight.T + self.phase)

    def vjp(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Gradient of ``w·φ(x)`` with respect to ``x``, shape ``[M, d]``."""
        s = torch.sin(x @ self.weight.T + self.phase)  # [M, n]
        return -math.sqrt(2.0 / self.n) * ((s * w) @ self.weight)


def median_pairwise_distance(x: torch.Tensor, max_rows: int, generator: torch.Generator) -> float:
    """Median distance between distinct rows of a seeded subsample of at most ``max_rows`` rows."""
    if x.shape[0] > max_rows:
        idx = torch.randperm(x.shape[0], generator=generator)[:max_rows]
        x = x[idx]
    dist = torch.cdist(x.double(), x.double())  # [M, M]
    iu = torch.triu_indices(x.shape[0], x.shape[0], offset=1)
    return float(dist[iu[0], iu[1]].median())
