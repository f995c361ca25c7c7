r"""Step rules for stochastic (stepwise) EM.

After each group of batches with statistics :math:`s_b` over weight :math:`n_b`, the
driver blends in statistic space

.. math:: S_t = (1 - \rho_t) S_{t-1} + \rho_t \frac{N}{n_b} s_b,

a convex combination, so :math:`S_t` stays a valid record, then updates the
parameters from :math:`S_t`. A step rule gives :math:`\rho_t` for the update
number :math:`t = 1, 2, \dots`; subclass :class:`StepRule` and implement
:meth:`StepRule.rho` to try a new one.

References
----------
O. Cappé and E. Moulines, "On-line expectation-maximization algorithm for latent
data models", JRSS B, 2009. M. Hoffman, D. Blei, C. Wang and J. Paisley,
"Stochastic variational inference", JMLR, 2013. S. Ruder, "An overview of gradient
descent optimization algorithms", 2016 (momentum and Nesterov).
"""

from __future__ import annotations

from typing import Any

from ._validation import check_scalar

__all__ = ["EMA", "Constant", "Momentum", "Nesterov", "PowerDecay", "StepRule"]


class StepRule:
    """Base class: a rule giving the step size ``rho_t`` of update ``t``.

    Attributes
    ----------
    momentum : float
        Extrapolation factor gamma (0 for plain rules).
    nesterov : bool
        Whether the extrapolation looks ahead (Nesterov) or not.
    """

    momentum: float = 0.0
    nesterov: bool = False

    def rho(self, t: int) -> float:
        """Return the step size of update ``t`` (1-based), in (0, 1].

        Parameters
        ----------
        t : int
            Update number, starting at 1.

        Returns
        -------
        float
            The step size.
        """
        raise NotImplementedError

    def _args(self) -> dict[str, Any]:
        """The constructor's arguments (by default, the attributes)."""
        return dict(vars(self))

    def to_dict(self) -> dict[str, Any]:
        """Return the rule's name and arguments (saved in snapshots).

        Returns
        -------
        dict
            ``{"class": name, **arguments}``; nested rules become dicts and values
            that are not plain numbers, strings or booleans become their repr.
        """

        def plain(v: Any) -> Any:
            if isinstance(v, StepRule):
                return v.to_dict()
            if v is None or isinstance(v, (bool, int, float, str)):
                return v
            return repr(v)

        return {"class": type(self).__name__, **{k: plain(v) for k, v in self._args().items()}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({args})"


class Constant(StepRule):
    r"""A fixed step :math:`\rho_t = \rho` (pomegranate's inertia view: :math:`\rho = 1 -` inertia).

    ``Constant(1.0)`` with one batch per pass is full-batch EM.

    Parameters
    ----------
    rho : float
        The step, in (0, 1].
    """

    def __init__(self, rho: float) -> None:
        self.rho_ = check_scalar("rho", rho, low=0.0, low_open=True, high=1.0)

    def rho(self, t: int) -> float:  # noqa: D102 - see StepRule.rho
        return self.rho_

    def _args(self) -> dict[str, Any]:
        return {"rho": self.rho_}


class PowerDecay(StepRule):
    r"""Robbins-Monro decay :math:`\rho_t = (t + \text{delay})^{-\kappa}` (bnpy's ``rhoexp``, ``rhodelay``).

    With :math:`0.5 < \kappa \le 1` the steps satisfy :math:`\sum\rho_t = \infty`,
    :math:`\sum\rho_t^2 < \infty`, the conditions of Cappé-Moulines convergence.

    Parameters
    ----------
    kappa : float, default=0.55
        Decay exponent, in (0, 1].
    delay : float, default=1.0
        Delay (>= 0); larger values slow down the early steps.
    """

    def __init__(self, kappa: float = 0.55, delay: float = 1.0) -> None:
        self.kappa = check_scalar("kappa", kappa, low=0.0, low_open=True, high=1.0)
        self.delay = check_scalar("delay", delay, low=0.0)

    def rho(self, t: int) -> float:  # noqa: D102 - see StepRule.rho
        return min(1.0, (t + self.delay) ** -self.kappa)


class EMA(StepRule):
    r"""Exponential moving average with Adam-style bias correction.

    :math:`\rho_t = (1 - \beta) / (1 - \beta^t)`, which is the same as keeping
    :math:`m_t = \beta m_{t-1} + (1-\beta)\,\hat s_t` and using
    :math:`m_t / (1 - \beta^t)`: the weights on past batches sum to one from the
    first step on (:math:`\rho_1 = 1`), then tend to a constant :math:`1-\beta`.

    Parameters
    ----------
    beta : float, default=0.9
        Decay of the average, in [0, 1).
    """

    def __init__(self, beta: float = 0.9) -> None:
        self.beta = check_scalar("beta", beta, low=0.0, high=1.0, high_open=True)

    def rho(self, t: int) -> float:  # noqa: D102 - see StepRule.rho
        return (1.0 - self.beta) / (1.0 - self.beta**t)


class Momentum(StepRule):
    r"""Heavy-ball momentum along the statistic update direction.

    With :math:`g_t = \frac{N}{n_b}s_b - S_{t-1}`, the velocity is
    :math:`v_t = \gamma v_{t-1} + \rho_t g_t` and :math:`S_t = S_{t-1} + v_t`. When
    the extrapolated statistics would be invalid (a negative weight, a covariance
    that is not positive definite) the driver falls back to the plain step
    :math:`v_t = \rho_t g_t` and counts the fallback in the history.

    Parameters
    ----------
    gamma : float, default=0.5
        Momentum factor, in [0, 1).
    base : StepRule, default=PowerDecay()
        Rule giving :math:`\rho_t`.
    """

    nesterov = False

    def __init__(self, gamma: float = 0.5, base: StepRule | None = None) -> None:
        self.momentum = check_scalar("gamma", gamma, low=0.0, high=1.0, high_open=True)
        if base is not None and not isinstance(base, StepRule):
            raise TypeError(f"base must be a StepRule; got {base!r}")
        self.base = base if base is not None else PowerDecay()

    def rho(self, t: int) -> float:  # noqa: D102 - see StepRule.rho
        return self.base.rho(t)

    def _args(self) -> dict[str, Any]:
        return {"gamma": self.momentum, "base": self.base}


class Nesterov(Momentum):
    r"""Nesterov momentum: :math:`S_t = S_{t-1} + \gamma v_t + \rho_t g_t`.

    The look-ahead form of Bengio et al. (2013), which needs no extra E-step; the
    same validity guard as :class:`Momentum` applies.

    Parameters
    ----------
    gamma : float, default=0.5
        Momentum factor, in [0, 1).
    base : StepRule, default=PowerDecay()
        Rule giving :math:`\rho_t`.
    """

    nesterov = True
