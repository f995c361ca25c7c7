"""The numpy re-derivation of bnpy 0.1.7's ELBO (``bnpy_reference``) equals bnpy's own numbers.

The values in ``data/bnpy_reference_cases.npz`` were computed by bnpy 0.1.7 itself with
``benchmarks/bnpy_check.py --save`` (run by a python that has bnpy); bnpy is not needed here.
Cases: small random data (Gauss / DiagGauss x Finite / DP, K = 3 and 5, ``'eye'`` and
``'covdata'`` priors, ``randexamples`` and ``randexamplesbydist`` starts, a few VB laps),
AsteriskK8 states (records only) and soVB states (the memoized whole-data record with the
blended posterior, bnpy's reported per-batch loss).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import bnpy_reference as ref

PATH = os.path.join(os.path.dirname(__file__), "data", "bnpy_reference_cases.npz")
RTOL = 1e-10


def _load():
    z = np.load(PATH)
    layout = json.loads(str(z["layout"]))
    cases = {}
    for name, info in layout.items():
        flat = z[name]
        c = dict(meta=info["meta"], stats={}, prior={}, post={})
        for key, (off, shape) in info["arrays"].items():
            size = int(np.prod(shape)) if shape else 1
            a = flat[off: off + size].reshape(shape)
            if "/" in key:
                group, field = key.split("/")
                c[group][field] = float(a) if group == "prior" and field in ("nu", "kappa") else a
            else:
                c[key] = float(a) if not shape else a
        cases[name] = c
    return cases


CASES = _load()
VB = sorted(n for n, c in CASES.items() if "elbo_vb" in c)
WITH_X = sorted(n for n in VB if "X" in CASES[n])
SOVB = sorted(n for n, c in CASES.items() if "elbo_sovb" in c)


def _kw(c, bug=True):
    m = c["meta"]
    return dict(obs=m["obs"], alloc=m["alloc"], gamma=m["gamma"], bnpy_finite_bug=bug)


def test_the_cases_cover_every_model():
    kinds = {(CASES[n]["meta"]["obs"], CASES[n]["meta"]["alloc"]) for n in VB}
    assert kinds == {(o, a) for o in ("Gauss", "DiagGauss") for a in ("Finite", "DP")}
    assert len(WITH_X) >= 8 and len(SOVB) >= 4


@pytest.mark.parametrize("name", WITH_X)
def test_elbo_after_the_global_step_equals_bnpy(name):
    c = CASES[name]
    got = ref.elbo(c["X"], c["resp"], c["prior"], **_kw(c))
    np.testing.assert_allclose(got, c["elbo_vb"], rtol=RTOL, atol=0)


@pytest.mark.parametrize("name", WITH_X)
def test_elbo_for_a_given_posterior_equals_bnpy(name):
    c = CASES[name]
    got = ref.elbo(c["X"], c["resp"], c["prior"], posterior=c["post"], **_kw(c))
    np.testing.assert_allclose(got, c["elbo_given"], rtol=RTOL, atol=0)


@pytest.mark.parametrize("name", VB)
def test_elbo_from_the_record_equals_bnpy(name):
    c = CASES[name]
    got = ref.elbo_from_stats(c["stats"], c["prior"], **_kw(c))
    np.testing.assert_allclose(got, c["elbo_vb"], rtol=RTOL, atol=0)
    got = ref.elbo_from_stats(c["stats"], c["prior"], c["post"], **_kw(c))
    np.testing.assert_allclose(got, c["elbo_given"], rtol=RTOL, atol=0)


@pytest.mark.parametrize("name", SOVB)
def test_stochastic_vb_reported_elbo_equals_bnpy(name):
    c = CASES[name]
    got = ref.elbo_from_stats(c["stats"], c["prior"], c["post"], **_kw(c))
    np.testing.assert_allclose(got, c["elbo_sovb"], rtol=RTOL, atol=0)


@pytest.mark.parametrize("name", WITH_X)
def test_prior_record_and_local_step_equal_bnpy(name):
    c = CASES[name]
    m = c["meta"]
    prior = ref.bnpy_prior(c["X"], sF=m["sF"], ECovMat=m["ECovMat"], kappa=m["kappa"], obs=m["obs"])
    for key, v in c["prior"].items():
        np.testing.assert_allclose(prior[key], v, rtol=1e-14, atol=0)
    st = ref.summary_stats(c["X"], c["resp"], m["obs"])
    for key, v in c["stats"].items():
        np.testing.assert_allclose(st[key], v, rtol=1e-12, atol=1e-12)
    resp = ref.local_step(c["X"], c["post"], obs=m["obs"], alloc=m["alloc"])
    np.testing.assert_allclose(resp, c["resp"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in VB if CASES[n]["meta"]["alloc"] == "Finite"])
def test_finite_bug_is_the_gamma_half_offset(name):
    """bnpy's finite ELBO has gamma=0.5 in the Dirichlet normaliser and slack (Lalloc's default)."""
    c = CASES[name]
    st, prior, g = c["stats"], c["prior"], c["meta"]["gamma"]
    K = st["N"].size
    post = ref.global_step(prior=prior, obs=c["meta"]["obs"], alloc="Finite", gamma=g, stats=st)
    Elogw = ref.E_log_pi(post, "Finite")
    offset = (ref.c_Dir(g / K * np.ones(K)) - ref.c_Dir(0.5 / K * np.ones(K))
              + (g - 0.5) / K * Elogw.sum())
    right = ref.elbo_from_stats(st, prior, **_kw(c, bug=False))
    np.testing.assert_allclose(right - c["elbo_vb"], offset, rtol=1e-8, atol=1e-9)


def test_learning_rate_and_seed():
    # SOVBAlg: rho = (1 + iterid + rhodelay) ** -rhoexp, iterid = 0 at the first batch
    assert ref.learning_rate(1, 0.55, 1.0) == 2.0 ** -0.55
    assert ref.bnpy_seed() == 1607680  # Runner.createUniqueRandomSeed('none', taskID=1)
