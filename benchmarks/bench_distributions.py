"""W6: log_probability and summarize throughput per distribution vs scipy.stats and pomegranate.

For each distribution, n rows (1,000,000; 100,000 with --quick; univariate families get
one column, the multivariate normals d=25) are scored with ``log_probability`` and
summarized with ``summarize(X, accumulate=False)`` (one pass computing the additive
statistics). Peers:

- scipy.stats: the frozen distribution's ``logpdf`` / ``logpmf`` (scipy has no summarize);
- pomegranate 1.1.2: ``log_probability`` and ``summarize`` on a float64 torch tensor
  (data converted before timing; pomegranate's univariate families take (n, 1) input);
- protopunica (pomegranate 0.14.8): ``log_probability`` and ``summarize`` on numpy.

Throughput is million rows per second; "x suffstat" is the peer's time / suffstat's time
(>1: the peer is slower). The quality column is the sum of the log-probabilities
relative to suffstat's (max |difference| per row), so a fast wrong answer shows.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np

import _common as C

D_MV = 25
#: protopunica 0.14.8's BernoulliDistribution.summarize segfaults on repeated calls here.
PP_NO_SUMMARIZE = {"Bernoulli"}


def cases(n: int):
    """(name, data, suffstat model, scipy frozen, pomegranate factory, protopunica factory)."""
    import scipy.stats as st

    import suffstat as ss

    rng = np.random.default_rng(0)
    x_norm = rng.normal(1.0, 2.0, n)
    x_pos = rng.gamma(2.0, 1.5, n)
    x_unit = rng.beta(2.0, 3.0, n)
    x_cnt = rng.poisson(3.0, n).astype(np.float64)
    x_bin = (rng.random(n) < 0.3).astype(np.float64)
    x_cat = rng.integers(0, 10, n).astype(np.float64)
    probs = np.full(10, 0.1)
    cov = np.cov(rng.normal(size=(200, D_MV)), rowvar=False) + np.eye(D_MV)
    mean = rng.normal(size=D_MV)
    X_mv = rng.multivariate_normal(mean, cov, n)
    var = np.diag(cov).copy()

    def pom(factory):
        return factory

    out = [
        ("Normal", x_norm, ss.Normal(1.0, 2.0), st.norm(1.0, 2.0),
         lambda P, t: P.Normal(means=t([1.0]), covs=t([4.0]), covariance_type="diag"),
         lambda pp: pp.NormalDistribution(1.0, 2.0)),
        ("LogNormal", x_pos, ss.LogNormal(0.5, 0.8), st.lognorm(0.8, scale=math.exp(0.5)),
         lambda P, t: P.LogNormal(means=t([0.5]), covs=t([0.64]), covariance_type="diag"),
         lambda pp: pp.LogNormalDistribution(0.5, 0.8)),
        ("Exponential", x_pos, ss.Exponential(0.5), st.expon(scale=2.0),
         lambda P, t: P.Exponential(scales=t([2.0])),
         lambda pp: pp.ExponentialDistribution(0.5)),
        ("Gamma", x_pos, ss.Gamma(2.0, 1.0 / 1.5), st.gamma(2.0, scale=1.5),
         lambda P, t: P.Gamma(shapes=t([2.0]), rates=t([1.0 / 1.5])),
         lambda pp: pp.GammaDistribution(2.0, 1.0 / 1.5)),
        ("Beta", x_unit, ss.Beta(2.0, 3.0), st.beta(2.0, 3.0), None,
         lambda pp: pp.BetaDistribution(2.0, 3.0)),
        ("Uniform", x_unit, ss.Uniform(0.0, 1.0), st.uniform(0.0, 1.0),
         lambda P, t: P.Uniform(mins=t([0.0]), maxs=t([1.0])),
         lambda pp: pp.UniformDistribution(0.0, 1.0)),
        ("Poisson", x_cnt, ss.Poisson(3.0), st.poisson(3.0),
         lambda P, t: P.Poisson(lambdas=t([3.0])),
         lambda pp: pp.PoissonDistribution(3.0)),
        ("Bernoulli", x_bin, ss.Bernoulli(0.3), st.bernoulli(0.3),
         lambda P, t: P.Bernoulli(probs=t([0.3])),
         lambda pp: pp.BernoulliDistribution(0.3)),
        ("Categorical(10)", x_cat, ss.Categorical(probs), st.randint(0, 10),
         lambda P, t: P.Categorical(probs=t([probs])),
         None),  # protopunica's DiscreteDistribution uses np.string_ (gone in NumPy 2)
        (f"MultivariateNormal full d={D_MV}", X_mv, ss.MultivariateNormal(mean, cov),
         st.multivariate_normal(mean, cov),
         lambda P, t: P.Normal(means=t(mean), covs=t(cov), covariance_type="full"),
         lambda pp: pp.MultivariateGaussianDistribution(mean, cov)),
        (f"MultivariateNormal diag d={D_MV}", X_mv,
         ss.MultivariateNormal(mean, var, covariance_type="diag"),
         st.multivariate_normal(mean, np.diag(var)),  # scipy has no diagonal form
         lambda P, t: P.Normal(means=t(mean), covs=t(var), covariance_type="diag"),
         lambda pp: pp.IndependentComponentsDistribution(
             [pp.NormalDistribution(mean[j], math.sqrt(var[j])) for j in range(D_MV)])),
    ]
    return out


def main() -> None:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None)
    args = C.finish_args(p.parse_args())
    n = args.n or (100_000 if args.quick else 1_000_000)
    C.print_header(f"bench_distributions: W6, n={n}", args)
    warnings.filterwarnings("ignore")
    torch = C.optional("torch", "pomegranate (torch)")
    P = C.optional("pomegranate.distributions", "pomegranate 1.1.2") if torch is not None else None
    if torch is not None:
        torch.set_num_threads(args.threads)
    pp = C.optional("protopunica", "protopunica")

    def t64(v):
        return torch.tensor(np.asarray(v, dtype=np.float64))

    tables = {"log_probability": [], "summarize": []}
    for name, X, model, frozen, pom_f, pp_f in cases(n):
        print(f"\n## {name}", flush=True)
        X2 = X if X.ndim == 2 else X[:, None]
        Xt = torch.from_numpy(np.ascontiguousarray(X2)) if P is not None else None
        ref = model.log_probability(X)
        pom_d = pom_f(P, t64) if (P is not None and pom_f is not None) else None
        pp_d = pp_f(pp) if (pp is not None and pp_f is not None) else None
        is_disc = name.startswith(("Poisson", "Bernoulli", "Categorical"))

        def qual(lp):
            lp = np.asarray(lp, dtype=np.float64).reshape(-1)
            finite = np.isfinite(ref)
            return float(np.max(np.abs(lp[finite] - ref[finite]))) if lp.shape == ref.shape else math.nan

        lp_c = [C.Contender("suffstat", lambda: qual(model.log_probability(X)))]
        if frozen is not None:
            fn = frozen.logpmf if is_disc else frozen.logpdf
            note = " (uniform over 10 codes)" if name.startswith("Categorical") else ""
            lp_c.append(C.Contender("scipy.stats" + note, lambda fn=fn: qual(fn(X))))
        if pom_d is not None:
            lp_c.append(C.Contender("pomegranate 1.1.2",
                                    lambda: qual(pom_d.log_probability(Xt).detach().numpy())))
        if pp_d is not None:
            lp_c.append(C.Contender("protopunica 0.14.8", lambda: qual(pp_d.log_probability(X))))
        res = C.run_rounds(lp_c, args.rounds, verbose=False)
        _table(tables["log_probability"], name, n, res)

        sm_c = [C.Contender("suffstat", lambda: model.summarize(X, accumulate=False) and None)]
        if pom_d is not None:
            def pom_sum():
                pom_d._reset_cache()
                pom_d.summarize(Xt)
            sm_c.append(C.Contender("pomegranate 1.1.2", pom_sum))
        if pp_d is not None and name not in PP_NO_SUMMARIZE:
            def pp_sum():
                pp_d.summarize(X)
                pp_d.clear_summaries()
            sm_c.append(C.Contender("protopunica 0.14.8", pp_sum))
        res = C.run_rounds(sm_c, args.rounds, verbose=False)
        _table(tables["summarize"], name, n, res)
    for op, rows in tables.items():
        cols = ["distribution", "suffstat Mrows/s", "scipy.stats", "pomegranate 1.1.2",
                "protopunica 0.14.8"]
        if op == "summarize":
            cols.remove("scipy.stats")
        print(C.table(rows, cols, title=f"W6 {op}: suffstat throughput; peers as "
                      "'Mrows/s (x suffstat time)', max |log p - suffstat's| in brackets"
                      if op == "log_probability" else f"W6 {op}: suffstat throughput; peers as "
                      "'Mrows/s (x suffstat time)'"))
    C.print_notes()
    C.dump_json(args.json, tables)


def _table(rows, name, n, res):
    ss = res["suffstat"]
    row = {"distribution": name,
           "suffstat Mrows/s": f"{n / ss.median / 1e6:.3g}" if ss.times else ss.error or "-"}
    for nm, r in res.items():
        if nm == "suffstat":
            continue
        col = "scipy.stats" if nm.startswith("scipy") else nm
        if r.times:
            q = f" [{r.quality[-1]:.1e}]" if r.quality and not math.isnan(r.quality[-1]) else ""
            row[col] = f"{n / r.median / 1e6:.3g} ({r.median / ss.median:.2g}x){q}"
        else:
            row[col] = "failed: " + (r.error or "")[:40]
    rows.append(row)


if __name__ == "__main__":
    sys.path.insert(0, C.HERE)
    main()
