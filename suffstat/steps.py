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

import math
from typing import Any

import numpy as np

from ._validation import check_scalar
from .statistics import Statistic, map_arrays, record_dot

__all__ = ["EMA", "Adadelta", "Adagrad", "Adam", "Adamax", "AdaptiveRate", "AdaptiveStepRule", "Constant",
           "Momentum", "Nesterov", "PowerDecay", "RMSProp", "StepRule"]


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
    rho : float, default=0.5
        The step, in (0, 1]. The default is also the constant step of
        ``algorithm='sem-vr'`` and ``algorithm='fiem'``.
    """

    def __init__(self, rho: float = 0.5) -> None:
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


def _check_base(base: StepRule | None) -> StepRule:
    if base is not None and (not isinstance(base, StepRule) or isinstance(base, AdaptiveStepRule)
                             or base.momentum):
        raise TypeError(f"base must be a plain StepRule (no momentum, not adaptive); got {base!r}")
    return base if base is not None else PowerDecay()


class AdaptiveStepRule(StepRule):
    r"""Base class of the rules that move the statistics by their own per-element steps.

    With :math:`N` the total weight, the rule sees the statistic direction per unit
    of weight, :math:`\hat g_t = (\frac{N}{n_b}s_b - S_{t-1}) / N`, element by element
    over every data array of the record (kept fields such as ``shift`` are not
    stepped), keeps its accumulators as records of the same type, and proposes
    :math:`S_t = S_{t-1} + N \Delta_t`. Dividing by :math:`N` makes the learning rate
    independent of the data size (a record of sums grows with :math:`N`); the
    elements still differ in scale (counts, first and second moments), which
    per-element rates rescale. The records are compared at one reference point:
    the accumulators keep the ``shift`` of the first record they saw and the
    statistics are re-centred on it before every step.

    When the candidate is invalid (a negative weight, a covariance that is not
    positive definite) the driver falls back to the plain convex step
    :math:`S_t = (1 - \rho_t) S_{t-1} + \rho_t \frac{N}{n_b} s_b` with
    :math:`\rho_t` from ``base`` and counts the fallback in the history's
    ``fallbacks``; the accumulators keep the update of this step either way.
    The accumulators are part of the resumable run state (snapshots save them).
    The first update of a fit takes the first batch whole (:math:`\rho_1 = 1`), as
    with every rule; the rule's own count :math:`k` (for bias corrections) starts
    at the second.

    Subclasses implement :meth:`update`.
    """

    adaptive = True
    #: Names of the accumulators (records) in the rule's state.
    accumulators: tuple[str, ...] = ()

    def __init__(self, base: StepRule | None = None) -> None:
        self.base = _check_base(base)

    def rho(self, t: int) -> float:
        """Return the step of the plain fallback (from ``base``).

        Parameters
        ----------
        t : int
            Update number, starting at 1.

        Returns
        -------
        float
            The step size.
        """
        return self.base.rho(t)

    def start(self, S: Statistic) -> dict[str, Any]:
        """Return the state before the first adaptive step: zero accumulators shaped like ``S``.

        Parameters
        ----------
        S : Statistic
            The current statistics.

        Returns
        -------
        dict
            ``k`` (steps taken) and one zero record per accumulator.
        """
        zero = S.zeros_like()
        return {"k": 0, **{name: zero for name in self.accumulators}}

    def update(self, S: Statistic, target: Statistic, state: dict[str, Any], n_total: float
               ) -> tuple[Statistic, dict[str, Any], float]:
        """Return the candidate statistics, the new state and the step to report.

        Parameters
        ----------
        S : Statistic
            The current statistics :math:`S_{t-1}`.
        target : Statistic
            The scaled batch statistics :math:`\\frac{N}{n_b} s_b`.
        state : dict
            The rule's state (from :meth:`start` or the previous update).
        n_total : float
            The total weight :math:`N`.

        Returns
        -------
        candidate : Statistic
            The proposed :math:`S_t` (the driver checks that it is valid).
        state : dict
            The updated state.
        rate : float
            The step reported in the history's ``lrate``.
        """
        raise NotImplementedError

    @staticmethod
    def _gradient(acc: Statistic, S: Statistic, target: Statistic, n_total: float) -> Statistic:
        return map_arrays(lambda _, s, x: (x - s) / n_total, acc, S, target)

    @staticmethod
    def _moved(acc: Statistic, S: Statistic, delta: Statistic, n_total: float) -> Statistic:
        return map_arrays(lambda _, s, d: s + n_total * d, acc, S, delta)


class Adagrad(AdaptiveStepRule):
    r"""Adagrad (Duchi, Hazan and Singer, 2011): per-element steps shrinking with the summed squares.

    :math:`G_k = G_{k-1} + \hat g_k^2`, :math:`\Delta_k = \eta\, \hat g_k / (\sqrt{G_k} + \epsilon)`
    (the diagonal form of the paper), elementwise; see :class:`AdaptiveStepRule`.

    Parameters
    ----------
    lr : float, default=0.01
        Learning rate :math:`\eta` (the paper gives none; 0.01 is the common default
        of Keras and PyTorch).
    eps : float, default=1e-10
        Added to the denominator (PyTorch's default).
    base : StepRule, default=PowerDecay()
        Rule of the plain fallback step.
    """

    accumulators = ("G",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-10, base: StepRule | None = None) -> None:
        super().__init__(base)
        self.lr = check_scalar("lr", lr, low=0.0, low_open=True)
        self.eps = check_scalar("eps", eps, low=0.0)

    def update(self, S, target, state, n_total):  # noqa: D102 - see AdaptiveStepRule.update
        g = self._gradient(state["G"], S, target, n_total)
        G = map_arrays(lambda a, b: a + b * b, state["G"], g)
        delta = map_arrays(lambda a, b: self.lr * b / (np.sqrt(a) + self.eps), G, g)
        return self._moved(G, S, delta, n_total), {"k": state["k"] + 1, "G": G}, self.lr


class RMSProp(AdaptiveStepRule):
    r"""RMSProp (Tieleman and Hinton, 2012, Coursera lecture 6.5): steps scaled by a running RMS.

    :math:`E_k = \gamma E_{k-1} + (1 - \gamma) \hat g_k^2`,
    :math:`\Delta_k = \eta\, \hat g_k / (\sqrt{E_k} + \epsilon)`, elementwise; see
    :class:`AdaptiveStepRule`.

    Parameters
    ----------
    lr : float, default=0.001
        Learning rate :math:`\eta` (the lecture's suggestion).
    decay : float, default=0.9
        Decay :math:`\gamma` of the mean square, in [0, 1).
    eps : float, default=1e-8
        Added to the denominator.
    base : StepRule, default=PowerDecay()
        Rule of the plain fallback step.
    """

    accumulators = ("E",)

    def __init__(self, lr: float = 0.001, decay: float = 0.9, eps: float = 1e-8,
                 base: StepRule | None = None) -> None:
        super().__init__(base)
        self.lr = check_scalar("lr", lr, low=0.0, low_open=True)
        self.decay = check_scalar("decay", decay, low=0.0, high=1.0, high_open=True)
        self.eps = check_scalar("eps", eps, low=0.0)

    def update(self, S, target, state, n_total):  # noqa: D102 - see AdaptiveStepRule.update
        g = self._gradient(state["E"], S, target, n_total)
        c = self.decay
        E = map_arrays(lambda a, b: c * a + (1.0 - c) * b * b, state["E"], g)
        delta = map_arrays(lambda a, b: self.lr * b / (np.sqrt(a) + self.eps), E, g)
        return self._moved(E, S, delta, n_total), {"k": state["k"] + 1, "E": E}, self.lr


class Adadelta(AdaptiveStepRule):
    r"""Adadelta (Zeiler, 2012, Algorithm 1): RMSProp with units corrected by the past steps.

    :math:`E[g^2]_k = \rho E[g^2]_{k-1} + (1-\rho)\hat g_k^2`,
    :math:`\Delta_k = \frac{\sqrt{E[\Delta^2]_{k-1} + \epsilon}}{\sqrt{E[g^2]_k + \epsilon}}\,\hat g_k`,
    :math:`E[\Delta^2]_k = \rho E[\Delta^2]_{k-1} + (1-\rho)\Delta_k^2`, elementwise; no
    learning rate. See :class:`AdaptiveStepRule`.

    Parameters
    ----------
    decay : float, default=0.95
        Decay :math:`\rho` of both running averages, in [0, 1) (the paper's value).
    eps : float, default=1e-6
        The paper's constant :math:`\epsilon`; it also sets the size of the first
        steps (about :math:`\sqrt{\epsilon}` per element).
    base : StepRule, default=PowerDecay()
        Rule of the plain fallback step.
    """

    accumulators = ("Eg2", "Edx2")

    def __init__(self, decay: float = 0.95, eps: float = 1e-6, base: StepRule | None = None) -> None:
        super().__init__(base)
        self.decay = check_scalar("decay", decay, low=0.0, high=1.0, high_open=True)
        self.eps = check_scalar("eps", eps, low=0.0, low_open=True)

    def update(self, S, target, state, n_total):  # noqa: D102 - see AdaptiveStepRule.update
        g = self._gradient(state["Eg2"], S, target, n_total)
        c, eps = self.decay, self.eps
        Eg2 = map_arrays(lambda a, b: c * a + (1.0 - c) * b * b, state["Eg2"], g)
        delta = map_arrays(lambda a, e, b: np.sqrt(e + eps) / np.sqrt(a + eps) * b, Eg2, state["Edx2"], g)
        Edx2 = map_arrays(lambda a, d: c * a + (1.0 - c) * d * d, state["Edx2"], delta)
        return (self._moved(Eg2, S, delta, n_total), {"k": state["k"] + 1, "Eg2": Eg2, "Edx2": Edx2},
                math.nan)


class Adam(AdaptiveStepRule):
    r"""Adam (Kingma and Ba, 2015, Algorithm 1): bias-corrected first and second moments.

    :math:`m_k = \beta_1 m_{k-1} + (1-\beta_1)\hat g_k`,
    :math:`v_k = \beta_2 v_{k-1} + (1-\beta_2)\hat g_k^2`,
    :math:`\Delta_k = \eta\, \hat m_k / (\sqrt{\hat v_k} + \epsilon)` with
    :math:`\hat m_k = m_k / (1-\beta_1^k)`, :math:`\hat v_k = v_k / (1-\beta_2^k)`,
    elementwise; see :class:`AdaptiveStepRule`.

    Parameters
    ----------
    lr : float, default=0.001
        Learning rate :math:`\eta` (the paper's default, as are the others).
    beta1, beta2 : float, default=0.9, 0.999
        Decays of the moments, in [0, 1).
    eps : float, default=1e-8
        Added to the denominator.
    base : StepRule, default=PowerDecay()
        Rule of the plain fallback step.
    """

    accumulators = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 base: StepRule | None = None) -> None:
        super().__init__(base)
        self.lr = check_scalar("lr", lr, low=0.0, low_open=True)
        self.beta1 = check_scalar("beta1", beta1, low=0.0, high=1.0, high_open=True)
        self.beta2 = check_scalar("beta2", beta2, low=0.0, high=1.0, high_open=True)
        self.eps = check_scalar("eps", eps, low=0.0)

    def update(self, S, target, state, n_total):  # noqa: D102 - see AdaptiveStepRule.update
        g = self._gradient(state["m"], S, target, n_total)
        k, b1, b2 = state["k"] + 1, self.beta1, self.beta2
        m = map_arrays(lambda a, b: b1 * a + (1.0 - b1) * b, state["m"], g)
        v = map_arrays(lambda a, b: b2 * a + (1.0 - b2) * b * b, state["v"], g)
        c1, c2 = 1.0 - b1**k, 1.0 - b2**k
        delta = map_arrays(lambda a, b: self.lr * (a / c1) / (np.sqrt(b / c2) + self.eps), m, v)
        return self._moved(m, S, delta, n_total), {"k": k, "m": m, "v": v}, self.lr


class Adamax(AdaptiveStepRule):
    r"""Adamax (Kingma and Ba, 2015, Algorithm 2): Adam with an infinity-norm second moment.

    :math:`m_k = \beta_1 m_{k-1} + (1-\beta_1)\hat g_k`,
    :math:`u_k = \max(\beta_2 u_{k-1}, |\hat g_k|)`,
    :math:`\Delta_k = \frac{\eta}{1-\beta_1^k}\, m_k / u_k` (0 where :math:`u_k = 0`),
    elementwise; see :class:`AdaptiveStepRule`.

    Parameters
    ----------
    lr : float, default=0.002
        Learning rate :math:`\eta` (the paper's default, as are the others).
    beta1, beta2 : float, default=0.9, 0.999
        Decays, in [0, 1).
    base : StepRule, default=PowerDecay()
        Rule of the plain fallback step.
    """

    accumulators = ("m", "u")

    def __init__(self, lr: float = 0.002, beta1: float = 0.9, beta2: float = 0.999,
                 base: StepRule | None = None) -> None:
        super().__init__(base)
        self.lr = check_scalar("lr", lr, low=0.0, low_open=True)
        self.beta1 = check_scalar("beta1", beta1, low=0.0, high=1.0, high_open=True)
        self.beta2 = check_scalar("beta2", beta2, low=0.0, high=1.0, high_open=True)

    def update(self, S, target, state, n_total):  # noqa: D102 - see AdaptiveStepRule.update
        g = self._gradient(state["m"], S, target, n_total)
        k, b1, b2 = state["k"] + 1, self.beta1, self.beta2
        m = map_arrays(lambda a, b: b1 * a + (1.0 - b1) * b, state["m"], g)
        u = map_arrays(lambda a, b: np.maximum(b2 * a, np.abs(b)), state["u"], g)
        c = self.lr / (1.0 - b1**k)

        def step(a, b):
            return np.divide(c * a, b, out=np.zeros_like(a), where=b > 0)

        delta = map_arrays(step, m, u)
        return self._moved(m, S, delta, n_total), {"k": k, "m": m, "u": u}, self.lr


class AdaptiveRate(AdaptiveStepRule):
    r"""The adaptive scalar rate of Ranganath, Wang, Blei and Xing (2013) for stochastic VB and EM.

    With :math:`g_t = \frac{N}{n_b}s_b - S_{t-1}` (the noisy natural gradient of
    stochastic VB, :math:`\hat\lambda_t - \lambda_t`, since the prior cancels; the
    stochastic EM direction) the paper's Algorithm 1 keeps running averages

    .. math::

        \bar g_t = (1 - 1/\tau_t)\,\bar g_{t-1} + g_t / \tau_t, \qquad
        \bar h_t = (1 - 1/\tau_t)\,\bar h_{t-1} + g_t^\top g_t / \tau_t,

    takes :math:`\rho_t = \bar g_t^\top \bar g_t / \bar h_t` (in [0, 1] by
    Cauchy-Schwarz), updates the memory :math:`\tau_{t+1} = \tau_t (1 - \rho_t) + 1`
    and blends :math:`S_t = (1 - \rho_t) S_{t-1} + \rho_t \frac{N}{n_b} s_b` (a
    convex step, so always valid). The inner products run over every data element of
    the record (:func:`~suffstat.statistics.record_dot`); :math:`\rho_t` does not
    depend on the scale of :math:`g`.

    **Initialisation.** The paper initialises :math:`\bar g_0` and :math:`\bar h_0`
    from Monte Carlo estimates, a few noisy gradients at the starting parameters, and
    starts the memory at :math:`\tau_1`. We do what the published implementations of
    the rule do (e.g. the ALRSVI optimiser of AugmentedGaussianProcesses.jl): the
    ``tau0`` updates after the first batch of the fit (which, as for every rule, is
    taken whole) summarize their batches at the starting statistics without moving
    them (``rho`` 0 in the history); :math:`\bar g_0` and :math:`\bar h_0` are the
    means of their :math:`g` and :math:`g^\top g`, and :math:`\tau_1` = ``tau0``,
    the number of samples in the estimate. Update ``tau0 + 1`` of the rule is the
    paper's :math:`t = 1`: a fresh batch enters the averages with weight
    :math:`1/\tau_1` before the first step. The Monte Carlo
    batches are part of the pass: with ``tau0=5`` the statistics stand still for
    updates 2 to 6 of the fit.

    Parameters
    ----------
    tau0 : int, default=5
        Batches of the Monte Carlo start, and the first memory :math:`\tau_1`. A
        larger value gives a steadier first estimate and smaller first steps, at the
        cost of ``tau0`` updates that do not move.
    base : StepRule, default=PowerDecay()
        Rule of the plain fallback step (not reached: the step is convex).
    """

    def __init__(self, tau0: int = 5, base: StepRule | None = None) -> None:
        super().__init__(base)
        if isinstance(tau0, bool) or not isinstance(tau0, (int, np.integer)) or tau0 < 1:
            raise ValueError(f"tau0 must be an integer >= 1; got {tau0!r}")
        self.tau0 = int(tau0)

    def start(self, S: Statistic) -> dict[str, Any]:  # noqa: D102 - see AdaptiveStepRule.start
        return {"k": 0, "g_bar": S.zeros_like(), "h_bar": 0.0, "tau": float(self.tau0)}

    def update(self, S, target, state, n_total):  # noqa: D102 - see AdaptiveStepRule.update
        g_bar = state["g_bar"]
        g = map_arrays(lambda _, s, x: x - s, g_bar, S, target)
        gg = record_dot(g, g)
        k = state["k"] + 1
        if k <= self.tau0:  # Monte Carlo start at the first statistics: no move
            g_bar = map_arrays(lambda a, b: a + b / self.tau0, g_bar, g)
            h_bar = state["h_bar"] + gg / self.tau0
            return S, {"k": k, "g_bar": g_bar, "h_bar": h_bar, "tau": state["tau"]}, 0.0
        tau = state["tau"]
        a = 1.0 / tau
        g_bar = map_arrays(lambda x, y: (1.0 - a) * x + a * y, g_bar, g)
        h_bar = (1.0 - a) * state["h_bar"] + a * gg
        rho = 0.0 if not h_bar > 0 else min(1.0, record_dot(g_bar, g_bar) / h_bar)
        tau = tau * (1.0 - rho) + 1.0
        candidate = S if rho == 0.0 else (1.0 - rho) * S + rho * target
        return candidate, {"k": k, "g_bar": g_bar, "h_bar": h_bar, "tau": tau}, rho

    def _args(self) -> dict[str, Any]:
        return {"tau0": self.tau0, "base": self.base}
