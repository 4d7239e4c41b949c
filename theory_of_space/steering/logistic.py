"""L2-regularised logistic regression fitted in torch with full-batch L-BFGS.

The objective is the one of the usual "L2, C=1, lbfgs" logistic regression, with an unpenalised
intercept, divided by the number of rows (same minimiser, better conditioned numbers):

    J(w, b) / N = mean_i [softplus(z_i·w + b) - y_i (z_i·w + b)] + ||w||² / (2 C N)
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import torch

DEFAULT_MAX_ITER = 1000
DEFAULT_TOL = 1e-6
_HISTORY_SIZE = 10  # memory of the L-BFGS Hessian approximation, as in the usual lbfgs solvers
_TOL_CHANGE = 1e-12  # stop only when progress stalls at round-off, not before the gradient test


class ConvergenceWarning(UserWarning):
    """Logistic regression stopped before its gradient fell below the tolerance."""


@dataclass(frozen=True)
class LogisticDiagnostics:
    """How the L-BFGS fit ended.

    Attributes:
        n_iter: L-BFGS iterations performed.
        objective: final value of J/N.
        grad_max: max-abs gradient of J/N at the returned solution.
        train_accuracy: accuracy of ``sigmoid(z·w + b) > 0.5`` on the training rows.
        converged: whether ``grad_max <= tol``.
    """

    n_iter: int
    objective: float
    grad_max: float
    train_accuracy: float
    converged: bool

    def to_dict(self) -> dict[str, float | int | bool]:
        """Plain-JSON form for ``config.json``."""
        return asdict(self)


@dataclass(frozen=True)
class LogisticFit:
    """Weights, intercept and diagnostics of a fitted logistic regression."""

    w: torch.Tensor  # [n]
    b: torch.Tensor  # [] (0-d)
    diagnostics: LogisticDiagnostics


def _objective(theta: torch.Tensor, z: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    w, b = theta[:-1], theta[-1]
    # The reductions run in float64 so that the line search still sees progress near the optimum
    # of a float32 fit; the matrix product stays in the features' dtype.
    logits = (z @ w + b).double()  # [N]
    data = (torch.nn.functional.softplus(logits) - y.double() * logits).mean()
    return data + (w.double() @ w.double()) / (2.0 * c * z.shape[0])


def fit_logistic(
    z: torch.Tensor,
    y: torch.Tensor,
    *,
    C: float = 1.0,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> LogisticFit:
    """Fit ``P(y=1 | z) = sigmoid(z·w + b)`` by L-BFGS from zero.

    Runs in ``z``'s dtype and on its device. Non-convergence warns with
    :class:`ConvergenceWarning`; it does not fail.

    Args:
        z: features ``[N, n]``, float32 or float64.
        y: labels ``[N]`` in {0, 1}.
        C: inverse L2 strength; the penalty is ``||w||² / (2C)`` on the summed loss.
        max_iter: at most this many L-BFGS iterations.
        tol: stop when the max-abs gradient of J/N falls below this.

    Returns:
        The weights, the intercept and :class:`LogisticDiagnostics`.

    Raises:
        ValueError: on bad shapes, labels or hyper-parameters.

    Example:
        >>> z = torch.randn(200, 3, dtype=torch.float64)
        >>> fit = fit_logistic(z, (z[:, 0] > 0).double())
        >>> bool(fit.w[0] > 0)
        True
    """
    if z.ndim != 2:
        raise ValueError(f"expected features [N, n] for `z`, got shape {tuple(z.shape)}")
    if z.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"expected float32 or float64 for `z`, got {z.dtype}")
    if y.shape != (z.shape[0],):
        raise ValueError(f"expected labels of shape ({z.shape[0]},) for `y`, got {tuple(y.shape)}")
    if not C > 0:
        raise ValueError(f"expected a positive float for `C`, got {C}")
    if max_iter < 1:
        raise ValueError(f"expected a positive integer for `max_iter`, got {max_iter}")
    y = y.to(dtype=z.dtype, device=z.device)
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("expected labels in {0, 1} for `y`")

    # Fitting needs autograd even when called from inference code.
    with torch.inference_mode(False), torch.enable_grad():
        z = z.clone()
        y = y.clone()
        theta = torch.zeros(z.shape[1] + 1, dtype=z.dtype, device=z.device, requires_grad=True)
        opt = torch.optim.LBFGS(
            [theta],
            lr=1.0,
            max_iter=max_iter,
            max_eval=max_iter * 5 // 4,
            tolerance_grad=tol,
            tolerance_change=_TOL_CHANGE,
            history_size=_HISTORY_SIZE,
            line_search_fn="strong_wolfe",
        )

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = _objective(theta, z, y, C)
            loss.backward()
            return loss

        opt.step(closure)
        n_iter = int(opt.state[theta].get("n_iter", 0))
        loss = _objective(theta, z, y, C)
        (grad,) = torch.autograd.grad(loss, theta)

    theta = theta.detach()
    w, b = theta[:-1].clone(), theta[-1].clone()
    acc = float(((z @ w + b > 0).to(y.dtype) == y).to(torch.float64).mean())
    grad_max = float(grad.abs().max())
    diag = LogisticDiagnostics(
        n_iter=n_iter,
        objective=float(loss.detach()),
        grad_max=grad_max,
        train_accuracy=acc,
        converged=grad_max <= tol,
    )
    if not diag.converged:
        warnings.warn(
            f"logistic regression did not reach tol={tol:g} after {n_iter} iterations "
            f"(max-abs gradient {grad_max:.3g}); raise `max_iter` or use compute_dtype='float64'",
            ConvergenceWarning,
            stacklevel=2,
        )
    return LogisticFit(w=w, b=b, diagnostics=diag)
