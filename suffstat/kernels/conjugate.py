"""The batched global step of Normal-Wishart posteriors (variational Gaussian mixtures).

Stochastic VB makes a global step per batch of a few rows, on (k, d, d) arrays of a few
components: there the many small numpy operations of the posterior and its factors
(Cholesky factor, its inverse, log-determinants) cost far more than their arithmetic.
These two kernels make them in two calls. The posterior is computed with the same operations,
in the same order, as the numpy expressions it replaces (so the same bits); the Cholesky
factor and the inverse of that triangular factor are the textbook loops (LAPACK's results
to rounding).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel

#: Returned when every posterior is finite and positive definite.
STEP_OK = -1
#: Returned when a posterior holds a NaN or an infinity.
STEP_NONFINITE = -2


@kernel
def normal_wishart_posterior(n, shift, s1, s2, m0, B0, kappa0, nu0, reg, mean, kappa, nu, B):
    """Normal-Wishart posteriors of k records.

    Inputs: counts n (k,), reference points shift (k, d), sums s1 (k, d) and scatters
    s2 (k, d, d) about them; the prior m0 (d,), B0 (d, d), kappa0, nu0; reg_covar.
    Outputs (written): mean (k, d), kappa, nu (k,), B (k, d, d).
    """
    k, d = s1.shape
    dbar = np.empty(d)
    dm0 = np.empty(d)
    for c in range(k):
        nc = n[c]
        some = nc > 0
        for i in range(d):
            dbar[i] = s1[c, i] / nc if some else 0.0
        kap = kappa0 + nc
        kappa[c] = kap
        nu[c] = nu0 + nc
        coef = kappa0 * nc / kap
        for i in range(d):
            dm0[i] = dbar[i] - (m0[i] - shift[c, i])
        for i in range(d):
            for j in range(d):
                scatter = s2[c, i, j] - nc * dbar[i] * dbar[j]
                B[c, i, j] = B0[i, j] + scatter + coef * dm0[i] * dm0[j]
            B[c, i, i] += nc * reg
        for i in range(d):
            for j in range(i, d):
                v = 0.5 * (B[c, i, j] + B[c, j, i])
                B[c, i, j] = v
                B[c, j, i] = v
        for i in range(d):
            mean[c, i] = shift[c, i] + (kappa0 * (m0[i] - shift[c, i]) + nc * dbar[i]) / kap
        if not some:  # no data: the prior itself (not its rounding through the shift)
            for i in range(d):
                mean[c, i] = m0[i]
                for j in range(d):
                    B[c, i, j] = B0[i, j]


@kernel
def normal_wishart_factors(mean, kappa, nu, B, psi_sum, log_2, log_2pi, L, logdet, e_logdet, U, log_norm):
    """Factors of k Normal-Wishart posteriors (mean (k, d), kappa, nu (k,), B (k, d, d)).

    ``psi_sum`` (k,) is ``sum_j digamma((nu + 1 - j) / 2)``; ``log_2`` and ``log_2pi``
    the constants. Outputs (written when every posterior is finite and every B positive
    definite): L (k, d, d) lower Cholesky factors of B, logdet (k,) log|B|, e_logdet (k,)
    ``E[log|Lambda|]``, U (k, d, d) with ``U U^T = nu B^-1`` (``sqrt(nu) L^-T``) and
    log_norm (k,) the expected log-density's constant.

    Returns STEP_OK, STEP_NONFINITE, or the index of the first component whose B is not
    positive definite.
    """
    k, d = mean.shape
    for c in range(k):
        for i in range(d):
            if not math.isfinite(mean[c, i]):
                return STEP_NONFINITE
            for j in range(d):
                if not math.isfinite(B[c, i, j]):
                    return STEP_NONFINITE
    inv = np.empty((d, d))
    for c in range(k):
        for j in range(d):  # Cholesky, column by column
            a = B[c, j, j]
            for p in range(j):
                a -= L[c, j, p] * L[c, j, p]
            if not a > 0.0:
                return c
            ljj = math.sqrt(a)
            L[c, j, j] = ljj
            rcp = 1.0 / ljj  # scaled by the reciprocal, as LAPACK's dpotf2
            for i in range(j):
                L[c, i, j] = 0.0
            for i in range(j + 1, d):
                a = B[c, i, j]
                for p in range(j):
                    a -= L[c, i, p] * L[c, j, p]
                L[c, i, j] = a * rcp
        ld = 0.0
        for j in range(d):
            ld += math.log(L[c, j, j])
        logdet[c] = 2.0 * ld
        e_logdet[c] = d * log_2 - logdet[c] + psi_sum[c]
        log_norm[c] = -0.5 * d * log_2pi + 0.5 * e_logdet[c] - 0.5 * d / kappa[c]
        for j in range(d):  # L^-1 by forward substitution, column by column
            inv[j, j] = 1.0 / L[c, j, j]
            for i in range(j):
                inv[i, j] = 0.0
            for i in range(j + 1, d):
                a = 0.0
                for p in range(j, i):
                    a += L[c, i, p] * inv[p, j]
                inv[i, j] = -a / L[c, i, i]
        r = math.sqrt(nu[c])
        for i in range(d):
            for j in range(d):
                U[c, i, j] = r * inv[j, i]
    return STEP_OK


@kernel
def normal_wishart_elbo(n, shift, s1, s2, m0, B0, kappa0, nu0, reg, mean, kappa, nu, B, logdet, e_logdet, U,
                        prior_logdet, gl_post, gl_prior, log_2, log_2pi, out):
    """Each component's ELBO term under its Normal-Wishart posterior (bnpy's ``GaussObsModel``).

    The record (n, shift, s1, s2) and the prior (m0, B0, kappa0, nu0, reg_covar) as in
    :func:`normal_wishart_posterior`; the posterior (mean, kappa, nu, B) with its
    factors (logdet, e_logdet, U) as :func:`normal_wishart_factors` gives them;
    ``prior_logdet`` log|B0|; ``gl_post`` (k,) ``sum_j gammaln((nu + 1 - j) / 2)`` and
    ``gl_prior`` the same of nu0. Writes out (k,): the difference of the prior's and the
    posterior's cumulants, plus the linear terms that vanish right after a global step,
    minus ``N d / 2 log 2 pi``.
    """
    k, d = mean.shape
    m0c = np.empty(d)
    mc = np.empty(d)
    el = np.empty((d, d))
    elm = np.empty(d)
    for c in range(k):
        nc, kap, nuc = n[c], kappa[c], nu[c]
        value = (-0.5 * d * log_2 * (nu0 - nuc) - gl_prior + gl_post[c]
                 + 0.5 * d * (math.log(kappa0) - math.log(kap)) + 0.5 * (nu0 * prior_logdet - nuc * logdet[c]))
        for i in range(d):
            m0c[i] = m0[i] - shift[c, i]
            mc[i] = mean[c, i] - shift[c, i]
        for i in range(d):  # E[Lambda] = U U^T
            for j in range(d):
                a = 0.0
                for p in range(d):
                    a += U[c, i, p] * U[c, j, p]
                el[i, j] = a
        trace = 0.0
        for i in range(d):
            for j in range(d):
                b = s2[c, j, i] + B0[j, i] + kappa0 * m0c[j] * m0c[i] - B[c, j, i] - kap * mc[j] * mc[i]
                if i == j:
                    b += nc * reg
                trace += el[i, j] * b
        e_mu_l_mu = 0.0
        lin = 0.0
        for i in range(d):
            a = 0.0
            for j in range(d):
                a += el[i, j] * mc[j]
            elm[i] = a
            e_mu_l_mu += mc[i] * a
            lin += (s1[c, i] + kappa0 * m0c[i] - kap * mc[i]) * a
        e_mu_l_mu += d / kap
        value += (0.5 * (nc + nu0 - nuc) * e_logdet[c] - 0.5 * trace + lin
                  - 0.5 * (nc + kappa0 - kap) * e_mu_l_mu)
        out[c] = value - 0.5 * nc * d * log_2pi


@kernel
def blend_stacked_moments(a, rho, scale, same, n_a, s1_a, s2_a, shift_a, n_b, s1_b, s2_b, shift_b,
                          n_out, s1_out, s2_out, shift_out):
    """Stochastic VB's blend ``(1 - rho) A + rho (scale B)`` of two stacked Gaussian records.

    ``a`` is ``1 - rho``. Counts n (k,), sums s1 (k, d) and scatters s2 (k, d, d) (or
    (k, d) diagonals) about the shifts (k, d). Writes the blend's counts, sums and
    scatters, and shift_out (unless ``same``, the two records sharing one shift, kept):
    each component takes the reference point of the record that weighs more in it,
    and the other record's moments are moved there. The same operations, in the same
    order, as the records' own algebra (``Statistic.step_toward`` on
    ``GaussianMixtureStats``), so the same bits, in one call instead of some thirty
    small numpy operations.
    """
    k, d = s1_a.shape
    full = s2_a.ndim == 3
    for c in range(k):
        n_out[c] = a * n_a[c] + rho * (scale * n_b[c])
    if same:
        for c in range(k):
            for i in range(d):
                s1_out[c, i] = a * s1_a[c, i] + rho * (scale * s1_b[c, i])
        for c in range(k):
            if full:
                for i in range(d):
                    for j in range(d):
                        s2_out[c, i, j] = a * s2_a[c, i, j] + rho * (scale * s2_b[c, i, j])
            else:
                for i in range(d):
                    s2_out[c, i] = a * s2_a[c, i] + rho * (scale * s2_b[c, i])
        return
    moved_a = False
    moved_b = False
    for c in range(k):
        heavier = a * n_a[c] >= rho * (scale * n_b[c])
        for i in range(d):
            shift_out[c, i] = shift_a[c, i] if heavier else shift_b[c, i]
            if shift_a[c, i] - shift_out[c, i] != 0.0:
                moved_a = True
            if shift_b[c, i] - shift_out[c, i] != 0.0:
                moved_b = True
    for c in range(k):
        wa = a * n_a[c]
        wb = rho * (scale * n_b[c])
        for i in range(d):
            x = a * s1_a[c, i]
            y = rho * (scale * s1_b[c, i])
            if moved_a:
                x = x + wa * (shift_a[c, i] - shift_out[c, i])
            if moved_b:
                y = y + wb * (shift_b[c, i] - shift_out[c, i])
            s1_out[c, i] = x + y
        if full:
            for i in range(d):
                da_i = shift_a[c, i] - shift_out[c, i]
                db_i = shift_b[c, i] - shift_out[c, i]
                for j in range(d):
                    da_j = shift_a[c, j] - shift_out[c, j]
                    db_j = shift_b[c, j] - shift_out[c, j]
                    x = a * s2_a[c, i, j]
                    y = rho * (scale * s2_b[c, i, j])
                    if moved_a:
                        # s2 + cross + cross^T + w (delta delta^T), cross = s1 delta^T (of the scaled record)
                        x = ((x + (a * s1_a[c, i]) * da_j) + (a * s1_a[c, j]) * da_i) + wa * (da_i * da_j)
                    if moved_b:
                        y = (((y + (rho * (scale * s1_b[c, i])) * db_j) + (rho * (scale * s1_b[c, j])) * db_i)
                             + wb * (db_i * db_j))
                    s2_out[c, i, j] = x + y
        else:
            for i in range(d):
                da = shift_a[c, i] - shift_out[c, i]
                db = shift_b[c, i] - shift_out[c, i]
                x = a * s2_a[c, i]
                y = rho * (scale * s2_b[c, i])
                if moved_a:
                    # s2 + 2 delta s1 + w delta delta (of the scaled record)
                    x = (x + (2.0 * da) * (a * s1_a[c, i])) + (wa * da) * da
                if moved_b:
                    y = (y + (2.0 * db) * (rho * (scale * s1_b[c, i]))) + (wb * db) * db
                s2_out[c, i] = x + y


@kernel
def normal_wishart_step(n, shift, s1, s2, m0, B0, kappa0, nu0, reg, psi_sum, log_2, log_2pi,
                        mean, kappa, nu, B, L, logdet, e_logdet, U, log_norm):
    """:func:`normal_wishart_posterior` then :func:`normal_wishart_factors`, in one call.

    ``psi_sum`` is that of the posteriors' degrees of freedom ``nu0 + n``. Returns the
    factors' status.
    """
    normal_wishart_posterior(n, shift, s1, s2, m0, B0, kappa0, nu0, reg, mean, kappa, nu, B)
    return normal_wishart_factors(mean, kappa, nu, B, psi_sum, log_2, log_2pi, L, logdet, e_logdet, U, log_norm)
