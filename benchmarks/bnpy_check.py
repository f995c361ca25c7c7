"""Check ``tests/bnpy_reference.py`` against bnpy 0.1.7 itself, and save the CI cases.

Run with the python of a venv that holds bnpy 0.1.7 (see ``../shared/peers/bnpy/``), e.g.::

    $BNPY_PYTHON benchmarks/bnpy_check.py [--save] [--data ../shared/data/asterisk_k8.npz]

It needs only numpy / scipy / bnpy (suffstat is not imported). For every case it builds a bnpy
model, runs a few VB laps with bnpy's own calls (the body of ``VBAlg.fit``), takes bnpy's ELBO
(``HModel.calc_evidence`` times ``N D``) and compares it with the reference's for the same
responsibilities; also for a posterior that is not the global step's result (the state before
the global step), for bnpy's stochastic VB (the body of ``SOVBAlg.fit``, including the loss it
reports per batch), for bnpy's own ``bnpy.run`` VB loss, and for bnpy's initialisations.
``--save`` writes ``tests/data/bnpy_reference_cases.npz`` (inputs and bnpy's values) for
``tests/test_bnpy_reference.py``, which runs without bnpy.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import sys
import tempfile

import numpy as np

# bnpy 0.1.7 calls inspect.getargspec, removed in Python 3.11
if not hasattr(inspect, "getargspec"):
    inspect.getargspec = lambda f: tuple(inspect.getfullargspec(f)[:4])
import bnpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
_spec = importlib.util.spec_from_file_location("bnpy_reference",
                                               os.path.join(ROOT, "tests", "bnpy_reference.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

ALLOC = {"Finite": "FiniteMixtureModel", "DP": "DPMixtureModel"}
TOL = 1e-10


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def make_model(Xd, obs, alloc, gamma, sF, ECovMat, kappa, infer="VB"):
    allocP = dict(gamma=gamma) if alloc == "Finite" else dict(gamma1=1.0, gamma0=gamma)
    obsP = dict(sF=sF, ECovMat=ECovMat, kappa=kappa, nu=0, min_covar=1e-8, MMat="zero")
    return bnpy.HModel.CreateEntireModel(infer, ALLOC[alloc], obs, allocP, obsP, Xd)


def post_of(hmodel, obs, alloc):
    P = hmodel.obsModel.Post
    out = dict(nu=P.nu.copy(), kappa=P.kappa.copy(), m=P.m.copy())
    out["B" if obs == "Gauss" else "beta"] = (P.B if obs == "Gauss" else P.beta).copy()
    A = hmodel.allocModel
    if alloc == "Finite":
        out["theta"] = A.theta.copy()
    else:
        out.update(eta1=A.eta1.copy(), eta0=A.eta0.copy())
    return out


def prior_of(hmodel, obs):
    P = hmodel.obsModel.Prior
    out = dict(nu=float(P.nu), kappa=float(P.kappa), m=np.array(P.m, dtype=float).copy())
    out["B" if obs == "Gauss" else "beta"] = np.array(P.B if obs == "Gauss" else P.beta).copy()
    return out


def stats_of(SS, obs):
    st = dict(N=SS.N.copy(), x=SS.x.copy())
    st["xxT" if obs == "Gauss" else "xx"] = (SS.xxT if obs == "Gauss" else SS.xx).copy()
    if SS.hasELBOTerm("Hresp"):
        st["Hresp"] = SS.getELBOTerm("Hresp").copy()
    return st


def vb_case(name, X, obs, alloc, K, gamma, seed, laps, sF=0.1, ECovMat="eye", kappa=1e-4,
            initname="randexamples", store_resp=True):
    """bnpy VB for `laps` laps from bnpy's init; returns bnpy's and the reference's ELBOs."""
    Xd = bnpy.data.XData(X)
    hm = make_model(Xd, obs, alloc, gamma, sF, ECovMat, kappa)
    hm.init_global_params(Xd, K=K, initname=initname, seed=seed)
    prior = prior_of(hm, obs)
    rprior = ref.bnpy_prior(X, sF=sF, ECovMat=ECovMat, kappa=kappa, obs=obs)
    prior_err = max(float(np.max(np.abs(np.asarray(prior[k]) - np.asarray(rprior[k]))))
                    for k in prior)
    # the initialisation: obs global step on the one-hot record of init_resp
    r0 = ref.init_resp(X, K, seed, initname)
    p0 = ref.global_step(X, r0, rprior, obs, alloc=alloc, gamma=gamma)
    b0 = post_of(hm, obs, alloc)
    init_err = max(float(np.max(np.abs(p0[k] - b0[k]) / np.maximum(1.0, np.abs(b0[k]))))
                   for k in b0)
    LP = None
    for _ in range(laps):
        LP = hm.calc_local_params(Xd, LP)
        SS = hm.get_global_suff_stats(Xd, LP)
        hm.update_global_params(SS)
    post_before = post_of(hm, obs, alloc)
    LP = hm.calc_local_params(Xd)
    resp = LP["resp"].copy()
    # local step of the reference from the same posterior
    resp_ref = ref.local_step(X, post_before, obs=obs, alloc=alloc)
    resp_err = float(np.max(np.abs(resp_ref - resp)))
    SS = hm.get_global_suff_stats(Xd, LP, doPrecompEntropy=True)
    scale = SS.N.sum() * X.shape[1]
    # (a) a posterior that is not the global step's result: bnpy evaluates its slack terms
    L_given = hm.calc_evidence(Xd, SS, LP) * scale
    # (b) after the global step: what VBAlg.fit reports
    hm.update_global_params(SS)
    L_vb = hm.calc_evidence(Xd, SS, LP) * scale
    kw = dict(obs=obs, alloc=alloc, gamma=gamma)
    r_vb = ref.elbo(X, resp, rprior, bnpy_finite_bug=True, **kw)
    r_given = ref.elbo(X, resp, rprior, bnpy_finite_bug=True, posterior=post_before, **kw)
    r_correct = ref.elbo(X, resp, rprior, bnpy_finite_bug=False, **kw)
    st = stats_of(SS, obs)
    r_stats = ref.elbo_from_stats(st, rprior, obs=obs, alloc=alloc, gamma=gamma,
                                  bnpy_finite_bug=True)
    pr = ref.global_step(X, resp, rprior, obs, alloc=alloc, gamma=gamma)
    pb = post_of(hm, obs, alloc)
    post_err = max(float(np.max(np.abs(pr[k] - pb[k]) / np.maximum(1.0, np.abs(pb[k]))))
                   for k in pb)
    row = dict(name=name, obs=obs, alloc=alloc, K=K, gamma=gamma, N=X.shape[0], D=X.shape[1],
               bnpy_vb=L_vb, ref_vb=r_vb, bnpy_given=L_given, ref_given=r_given, ref_stats=r_stats,
               ref_correct=r_correct, prior_err=prior_err, init_err=init_err, resp_err=resp_err,
               post_err=post_err, loss=-L_vb / scale)
    case = dict(X=X if store_resp else None, resp=resp if store_resp else None, stats=st,
                post_given=post_before, prior=rprior, sF=sF, ECovMat=ECovMat, kappa=kappa,
                elbo_vb=L_vb, elbo_given=L_given)
    return row, case


def sovb_case(name, X, obs, alloc, K, gamma, seed, nBatch, nLap, rhoexp, rhodelay, sF=0.1):
    """bnpy's soVB (body of SOVBAlg.fit, doMemoELBO=1, useSlackTermsInELBO=1) vs the reference."""
    Xd = bnpy.data.XData(X)
    hm = make_model(Xd, obs, alloc, gamma, sF, "eye", 1e-4, infer="soVB")
    hm.init_global_params(Xd, K=K, initname="randexamples", seed=seed)
    rprior = ref.bnpy_prior(X, sF=sF, obs=obs)
    dataorderseed = ref.bnpy_seed("", 1)
    it = Xd.to_iterator(nBatch=nBatch, nLap=nLap, dataorderseed=dataorderseed)
    dataorderseed = int(dataorderseed) % 1000000  # DataIterator's MAXSEED
    # the reference's own batches / order (DataIterator.__init__, getRandPermOfBatchIDsForCurLap)
    N = X.shape[0]
    per = N // nBatch * np.ones(nBatch, dtype=int)
    per[: N - per.sum()] += 1
    ids = np.random.RandomState(dataorderseed).permutation(N).tolist()
    batches = []
    for b in range(nBatch):
        batches.append(ids[: per[b]])
        del ids[: per[b]]
    order = [bid for lap in range(nLap)
             for bid in np.random.RandomState(dataorderseed + lap).permutation(nBatch)]
    rpost = ref.global_step(X, ref.init_resp(X, K, seed), rprior, obs, alloc=alloc, gamma=gamma)
    SStotal, per_batch, ref_per_batch = None, {}, {}
    iterid, worst, drift, worst_post, losses = -1, 0.0, 0.0, 0.0, []
    while it.has_next_batch():
        D = it.get_next_batch()
        bid = it.batchID
        iterid += 1
        assert bid == order[iterid] and list(it.IDsPerBatch[bid]) == batches[bid]
        LP = hm.calc_local_params(D, None)
        rho = (1 + iterid + rhodelay) ** (-1.0 * rhoexp)
        SS = hm.get_global_suff_stats(D, LP, doPrecompEntropy=True)
        if bid in per_batch:
            SStotal -= per_batch[bid]
        SStotal = SS.copy() if SStotal is None else SStotal + SS
        per_batch[bid] = SS.copy()
        amp = D.nObsTotal / float(D.nObs)
        SS.applyAmpFactor(amp)
        hm.update_global_params(SS, rho)
        L = -hm.calc_evidence(SS=SStotal, afterGlobalStep=False)
        losses.append(L)
        # the reference, from its own local step on its own batch
        Xb = X[batches[bid]]
        rb = ref.local_step(Xb, rpost, obs=obs, alloc=alloc)
        sb = ref.summary_stats(Xb, rb, obs)
        ref_per_batch[bid] = sb
        rho_ref = ref.learning_rate(iterid + 1, rhoexp, rhodelay)
        rpost = ref.stochastic_step(rpost, sb, N / len(Xb), rho_ref, rprior, obs, alloc=alloc,
                                    gamma=gamma)
        tot = {k: sum(ref_per_batch[b][k] for b in ref_per_batch) for k in sb}
        scale = tot["N"].sum() * X.shape[1]
        Lr = -ref.elbo_from_stats(tot, rprior, rpost, obs=obs, alloc=alloc, gamma=gamma,
                                  bnpy_finite_bug=True) / scale
        drift = max(drift, rel(Lr, L))
        # the objective on bnpy's own state (its SStotal and blended posterior)
        bst = stats_of(SStotal, obs)
        Lb = -ref.elbo_from_stats(bst, rprior, post_of(hm, obs, alloc), obs=obs, alloc=alloc,
                                  gamma=gamma, bnpy_finite_bug=True) / (bst["N"].sum() * X.shape[1])
        worst = max(worst, rel(Lb, L))
        bp = post_of(hm, obs, alloc)
        worst_post = max(worst_post, *(float(np.max(np.abs(rpost[k] - bp[k])
                                                    / np.maximum(1, np.abs(bp[k]))))
                                       for k in bp))
    # the last state, stored for CI: whole-data memoized record + blended posterior
    case = dict(stats=stats_of(SStotal, obs), post=post_of(hm, obs, alloc), prior=rprior,
                elbo=-losses[-1] * SStotal.N.sum() * X.shape[1])
    row = dict(name=name, obs=obs, alloc=alloc, K=K, nBatch=nBatch, nLap=nLap, updates=iterid + 1,
               loss_last=losses[-1], worst_rel_loss=worst, drift=drift, worst_post=worst_post)
    return row, case


def run_bnpy_vb_loss(X, K, seed_task=1):
    """bnpy.run's own cold VB (gallery settings, 5 laps): its reported loss vs the reference."""
    Xd = bnpy.data.XData(X)
    out = tempfile.mkdtemp(prefix="bnpy-check-")
    model, info = bnpy.run(Xd, "FiniteMixtureModel", "Gauss", "VB", nLap=5, K=K,
                           initname="randexamples", sF=0.1, ECovMat="eye", printEvery=100,
                           output_path=out, taskid=seed_task, doWriteStdOut=False)
    resp = info["LP"]["resp"]
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    prior = ref.bnpy_prior(X, sF=0.1, ECovMat="eye", obs="Gauss")
    lr = ref.loss(X, resp, prior, obs="Gauss", alloc="Finite", gamma=1.0, bnpy_finite_bug=True)
    # the seed bnpy.run used: its init equals init_resp(X, K, bnpy_seed('none', taskid))
    return float(info["loss"]), lr


def save_cases(cases, path):
    """Write the cases as one float64 vector per case plus a JSON layout (few zip entries).

    Layout: ``{case: {"meta": {...}, "arrays": {key: [offset, shape]}}}`` with keys ``X``,
    ``resp`` (small cases), ``stats/<field>``, ``prior/<field>``, ``post/<field>`` (the posterior
    bnpy evaluated for ``elbo_given`` / ``elbo_sovb``) and scalars ``elbo_vb``, ``elbo_given`` or
    ``elbo_sovb`` (bnpy's total ELBO, ``HModel.calc_evidence`` times ``N D``).
    """
    import json

    layout, out = {}, {}
    for name, (row, case) in cases.items():
        parts = {}
        for key in ("X", "resp"):
            if case.get(key) is not None:
                parts[key] = case[key]
        for group, d in (("stats", case["stats"]), ("prior", case["prior"]),
                         ("post", case.get("post_given", case.get("post")))):
            for key, v in d.items():
                parts[f"{group}/{key}"] = v
        for key in ("elbo_vb", "elbo_given"):
            if key in case:
                parts[key] = case[key]
        if "elbo" in case:
            parts["elbo_sovb"] = case["elbo"]
        arrays, chunks, off = {}, [], 0
        for key, v in parts.items():
            a = np.asarray(v, dtype=np.float64)
            arrays[key] = [off, list(a.shape)]
            chunks.append(a.ravel())
            off += a.size
        meta = dict(obs=row["obs"], alloc=row["alloc"], gamma=float(row.get("gamma", 1.0)),
                    K=int(row["K"]))
        if "sF" in case:
            meta.update(sF=case["sF"], ECovMat=case["ECovMat"], kappa=case["kappa"])
        layout[name] = dict(meta=meta, arrays=arrays)
        out[name] = np.concatenate(chunks)
    out["layout"] = np.array(json.dumps(layout))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, **out)
    print(f"saved {len(cases)} cases to tests/data/{os.path.basename(path)} "
          f"({os.path.getsize(path) / 1024:.1f} kB)")


def find_asterisk():
    """``$SUFFSTAT_ASTERISK``, else ``../shared/data/asterisk_k8.npz`` from the repository (or
    from the folder above it, for a git worktree one level deeper)."""
    if os.environ.get("SUFFSTAT_ASTERISK"):
        return os.environ["SUFFSTAT_ASTERISK"]
    for up in (("..",), ("..", "..")):
        p = os.path.join(ROOT, *up, "shared", "data", "asterisk_k8.npz")
        if os.path.exists(p):
            return os.path.normpath(p)
    return os.path.join(ROOT, "..", "shared", "data", "asterisk_k8.npz")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=find_asterisk())
    ap.add_argument("--save", action="store_true", help="write tests/data/bnpy_reference_cases.npz")
    args = ap.parse_args()

    rows, cases = [], {}
    rs = np.random.RandomState(7)
    small = {
        2: np.vstack([rs.randn(40, 2) * 0.3 + c for c in ([0, 0], [2, 1], [-1, 2])]),
        3: np.vstack([rs.randn(30, 3) @ np.diag([0.5, 0.2, 1.0]) + c
                      for c in ([0, 0, 0], [3, 0, 1], [0, 2, -2], [1, 1, 1])]),
    }
    i = 0
    for D, X in small.items():
        for obs in ("Gauss", "DiagGauss"):
            for alloc in ("Finite", "DP"):
                for K, gamma, laps, ecov, sF in ((3, 1.0, 1, "eye", 0.5),
                                                 (5, 2.5, 4, "covdata", 1.0)):
                    name = f"small{i:02d}"
                    i += 1
                    row, case = vb_case(name, X, obs, alloc, K, gamma, seed=100 + i, laps=laps,
                                        sF=sF, ECovMat=ecov, kappa=1e-4 if K == 3 else 0.5,
                                        initname="randexamples" if K == 3 else "randexamplesbydist")
                    rows.append(row)
                    cases[name] = (row, case)
    have_ast = os.path.exists(args.data)
    if have_ast:
        Xa = np.load(args.data)["X"]
        for obs in ("Gauss", "DiagGauss"):
            for alloc in ("Finite", "DP"):
                for K, laps in ((10, 3), (6, 8)):
                    name = f"asterisk_{obs}_{alloc}_K{K}"
                    row, case = vb_case(name, Xa, obs, alloc, K, 1.0, seed=ref.bnpy_seed(),
                                        laps=laps,
                                        store_resp=False)
                    rows.append(row)
                    cases[name] = (row, case)
    else:
        print(f"note: {args.data} not found, AsteriskK8 cases skipped")

    print(f"{'case':28s} {'obs':9s} {'alloc':6s} {'K':>2s} {'bnpy ELBO (VB)':>22s} {'rel(VB)':>9s} "
          f"{'rel(given)':>10s} {'rel(stats)':>10s} {'resp':>8s} {'init':>8s} {'prior':>8s}")
    worst = 0.0
    for r in rows:
        a, b, c = rel(r["ref_vb"], r["bnpy_vb"]), rel(r["ref_given"], r["bnpy_given"]), \
            rel(r["ref_stats"], r["bnpy_vb"])
        worst = max(worst, a, b, c)
        print(f"{r['name']:28s} {r['obs']:9s} {r['alloc']:6s} {r['K']:2d} {r['bnpy_vb']:22.12f} "
              f"{a:9.1e} {b:10.1e} {c:10.1e} {r['resp_err']:8.1e} {r['init_err']:8.1e} "
              f"{r['prior_err']:8.1e}")
    fin = [r for r in rows if r["alloc"] == "Finite"]
    print("finite-mixture offset of bnpy's gamma=0.5 bug (ELBO_correct - ELBO_bnpy), per row-dim:",
          ", ".join(f"{(r['ref_correct'] - r['ref_vb']) / (r['N'] * r['D']):.3e}"
                    for r in fin[:4]), "...")

    srows, drift = [], 0.0
    sX = small[2]
    for obs in ("Gauss", "DiagGauss"):
        for alloc in ("Finite", "DP"):
            row, case = sovb_case(f"sovb_{obs}_{alloc}", sX, obs, alloc, K=3, gamma=1.0, seed=5,
                                  nBatch=12, nLap=2, rhoexp=0.55, rhodelay=1.0)
            srows.append(row)
            cases[row["name"]] = (row, case)
    if have_ast:
        row, case = sovb_case("sovb_asterisk_Gauss_Finite", Xa, "Gauss", "Finite", K=10, gamma=1.0,
                              seed=ref.bnpy_seed(), nBatch=500, nLap=1, rhoexp=0.55, rhodelay=1.0)
        srows.append(row)
        cases[row["name"]] = (row, case)
    for r in srows:
        worst = max(worst, r["worst_rel_loss"])
        print(f"{r['name']:28s} soVB {r['updates']:4d} updates: last loss {r['loss_last']: .12e}, "
              f"objective on bnpy's state: worst rel {r['worst_rel_loss']:.1e}; independent "
              f"reference run: loss drift {r['drift']:.1e}, posterior drift {r['worst_post']:.1e}")
        drift = max(drift, r["drift"])

    if have_ast:
        lb, lr = run_bnpy_vb_loss(Xa, 10)
        worst = max(worst, rel(lr, lb))
        print(f"bnpy.run VB (AsteriskK8, K=10, 5 laps, taskid 1): bnpy loss {lb:.12e}, reference "
              f"{lr:.12e}, rel {rel(lr, lb):.1e}")
    print(f"bnpy seed of taskid 1 (jobname 'none'): {ref.bnpy_seed()}")
    print(f"WORST relative difference of the objective: {worst:.2e} -> "
          f"{'OK' if worst < TOL else 'FAIL'} (tol {TOL:g})")
    print(f"soVB trajectory drift (reference's own local steps and blends, rounding amplified over "
          f"the updates): {drift:.1e}")

    if args.save:
        save_cases(cases, os.path.join(ROOT, "tests", "data", "bnpy_reference_cases.npz"))
    return 0 if worst < TOL else 1


if __name__ == "__main__":
    sys.exit(main())
