"""Second round of E-step prototypes (scratch): transposed-block diag kernels (diag_v2, diag_v3),
one-exp responsibilities, and the stacked full-covariance kernels (full_v2, full_v3: the
latter became the library kernel)."""
import math
import numba
import numpy as np

OPTS = dict(nogil=True, error_model="numpy", cache=True)
DB = 256


@numba.njit(**OPTS)
def _responsibilities(Q, w, m, start):
    """Q (k, B) joint log-densities of rows 0..m of the block -> weighted responsibilities
    in place. Returns (sum w, sum w lse, sum w H)."""
    k = Q.shape[0]
    mx = np.empty(m)
    s = np.zeros(m)
    for i in range(m):
        mx[i] = Q[0, i]
    for c in range(1, k):
        for i in range(m):
            if Q[c, i] > mx[i]:
                mx[i] = Q[c, i]
    for c in range(k):
        for i in range(m):
            t = Q[c, i] - mx[i]
            Q[c, i] = t
            s[i] += math.exp(t)
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    for i in range(m):
        wi = w[start + i]
        w_sum += wi
        if mx[i] == -np.inf:
            for c in range(k):
                Q[c, i] = 0.0
            if wi > 0.0:
                ll += -np.inf
            continue
        ls = math.log(s[i])
        h = 0.0
        for c in range(k):
            lr = Q[c, i] - ls
            r = math.exp(lr)
            if r > 0.0:
                h -= r * lr
            Q[c, i] = r * wi
        if wi > 0.0:
            ll += wi * (mx[i] + ls)
            ent += wi * h
    return w_sum, ll, ent


@numba.njit(**OPTS)
def diag_v2(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
    n, d = X.shape
    k = means.shape[0]
    XT = np.empty((d, DB))
    Q = np.empty((k, DB))
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    for start in range(0, n, DB):
        m = min(start + DB, n) - start
        for i in range(m):
            for j in range(d):
                XT[j, i] = X[start + i, j]
        for c in range(k):
            q = Q[c]
            for i in range(m):
                q[i] = 0.0
            for j in range(d):
                mu = means[c, j]
                iv = inv_vars[c, j]
                xt = XT[j]
                for i in range(m):
                    z = xt[i] - mu
                    q[i] += z * z * iv
            b = log_weights[c] + log_norms[c]
            for i in range(m):
                q[i] = b - 0.5 * q[i]
        a, b_, e = _responsibilities(Q, w, m, start)
        w_sum += a
        ll += b_
        ent += e
        for i in range(m):
            x = X[start + i]
            for c in range(k):
                r = Q[c, i]
                if r == 0.0:
                    continue
                resp_sum[c] += r
                mu = means[c]
                a1 = s1[c]
                a2 = s2[c]
                for j in range(d):
                    z = x[j] - mu[j]
                    rz = r * z
                    a1[j] += rz
                    a2[j] += rz * z
    return w_sum, ll, ent


@numba.njit(**OPTS)
def _responsibilities1(Q, E, w, m, start):
    """One exp per (row, component): Q (k, B) log-densities -> E weighted resps."""
    k = Q.shape[0]
    mx = np.empty(m)
    s = np.zeros(m)
    for i in range(m):
        mx[i] = Q[0, i]
    for c in range(1, k):
        for i in range(m):
            if Q[c, i] > mx[i]:
                mx[i] = Q[c, i]
    for c in range(k):
        for i in range(m):
            t = Q[c, i] - mx[i]
            Q[c, i] = t
            e = math.exp(t)
            E[c, i] = e
            s[i] += e
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    for i in range(m):
        wi = w[start + i]
        w_sum += wi
        if mx[i] == -np.inf:
            for c in range(k):
                E[c, i] = 0.0
            if wi > 0.0:
                ll += -np.inf
            continue
        ls = math.log(s[i])
        inv = 1.0 / s[i]
        h = 0.0
        for c in range(k):
            r = E[c, i] * inv
            if r > 0.0:
                h += r * (ls - Q[c, i])
            E[c, i] = r * wi
        if wi > 0.0:
            ll += wi * (mx[i] + ls)
            ent += wi * h
    return w_sum, ll, ent


@numba.njit(**OPTS)
def diag_v3(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
    n, d = X.shape
    k = means.shape[0]
    XT = np.empty((d, DB))
    Q = np.empty((k, DB))
    E = np.empty((k, DB))
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    for start in range(0, n, DB):
        m = min(start + DB, n) - start
        for i in range(m):
            for j in range(d):
                XT[j, i] = X[start + i, j]
        for c in range(k):
            q = Q[c]
            for i in range(m):
                q[i] = 0.0
            for j in range(d):
                mu = means[c, j]
                iv = inv_vars[c, j]
                xt = XT[j]
                for i in range(m):
                    z = xt[i] - mu
                    q[i] += z * z * iv
            b = log_weights[c] + log_norms[c]
            for i in range(m):
                q[i] = b - 0.5 * q[i]
        a, b_, e = _responsibilities1(Q, E, w, m, start)
        w_sum += a
        ll += b_
        ent += e
        for i in range(m):
            x = X[start + i]
            for c in range(k):
                r = E[c, i]
                if r == 0.0:
                    continue
                resp_sum[c] += r
                mu = means[c]
                a1 = s1[c]
                a2 = s2[c]
                for j in range(d):
                    z = x[j] - mu[j]
                    rz = r * z
                    a1[j] += rz
                    a2[j] += rz * z
    return w_sum, ll, ent


@numba.njit(**OPTS)
def diag_noexp(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
    """Timing probe: diag_v3 with the responsibilities replaced by a constant."""
    n, d = X.shape
    k = means.shape[0]
    XT = np.empty((d, DB))
    Q = np.empty((k, DB))
    w_sum = 0.0
    for start in range(0, n, DB):
        m = min(start + DB, n) - start
        for i in range(m):
            for j in range(d):
                XT[j, i] = X[start + i, j]
        for c in range(k):
            q = Q[c]
            for i in range(m):
                q[i] = 0.0
            for j in range(d):
                mu = means[c, j]
                iv = inv_vars[c, j]
                xt = XT[j]
                for i in range(m):
                    z = xt[i] - mu
                    q[i] += z * z * iv
            for i in range(m):
                w_sum += q[i]
        for i in range(m):
            x = X[start + i]
            for c in range(k):
                r = 0.25
                resp_sum[c] += r
                mu = means[c]
                a1 = s1[c]
                a2 = s2[c]
                for j in range(d):
                    z = x[j] - mu[j]
                    rz = r * z
                    a1[j] += rz
                    a2[j] += rz * z
    return w_sum, 0.0, 0.0


def _make_full_v2(B):
    @numba.njit(**OPTS)
    def full_v2(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
        """Whiten all components with one GEMM on a block shifted by the mean of the
        means; scatter per component about its own mean with sqrt(r)-weighted rows."""
        n, d = X.shape
        k = means.shape[0]
        s = np.zeros(d)
        for c in range(k):
            for j in range(d):
                s[j] += means[c, j]
        for j in range(d):
            s[j] /= k
        UTs = np.empty((k * d, d))
        off = np.zeros((k, d))  # U_c^T (mu_c - s)
        for c in range(k):
            for l in range(d):
                a = 0.0
                for j in range(d):
                    u = prec_chols[c, j, l]
                    UTs[c * d + l, j] = u
                    a += u * (means[c, j] - s[j])
                off[c, l] = a
        acc = np.zeros((k, d + 1, d + 1))
        Q = np.empty((k, B))
        E = np.empty((k, B))
        w_sum = 0.0
        ll = 0.0
        ent = 0.0
        chk = 0.0
        for start in range(0, n, B):
            m = min(start + B, n) - start
            XR = np.empty((d, m))
            XS = np.empty((d, m))
            for i in range(m):
                for j in range(d):
                    XR[j, i] = X[start + i, j]
            for j in range(d):
                sj = s[j]
                for i in range(m):
                    XS[j, i] = XR[j, i] - sj
            Y = np.dot(UTs, XS)  # (k d, m)
            for c in range(k):
                q = Q[c]
                for i in range(m):
                    q[i] = 0.0
                for l in range(d):
                    o = off[c, l]
                    yl = Y[c * d + l]
                    for i in range(m):
                        y = yl[i] - o
                        q[i] += y * y
                if c == 0:
                    for i in range(m):
                        chk += q[i]
                b = log_weights[c] + log_norms[c]
                for i in range(m):
                    q[i] = b - 0.5 * q[i]
            a, b_, e = _responsibilities1(Q, E, w, m, start)
            w_sum += a
            ll += b_
            ent += e
            V = np.empty((d + 1, m))
            sr = np.empty(m)
            for c in range(k):
                rs = 0.0
                for i in range(m):
                    r = E[c, i]
                    rs += r
                    sr[i] = math.sqrt(r)
                resp_sum[c] += rs
                for j in range(d):
                    mu = means[c, j]
                    for i in range(m):
                        V[j, i] = sr[i] * (XR[j, i] - mu)
                for i in range(m):
                    V[d, i] = sr[i]
                acc[c] += np.dot(V, V.T)
        for c in range(k):
            for j in range(d):
                s1[c, j] += acc[c, j, d]
                for l in range(d):
                    s2[c, j, l] += acc[c, j, l]
        return w_sum, ll, ent
    return full_v2


full_v2 = _make_full_v2(512)
full_v2_256 = _make_full_v2(256)
full_v2_1024 = _make_full_v2(1024)
full_v2_384 = _make_full_v2(384)
full_v2_500 = _make_full_v2(500)
full_v2_640 = _make_full_v2(640)


def _make_full_v3(B):
    @numba.njit(**OPTS)
    def full_v3(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
        """One GEMM whitens all components (block shifted by the mean of the means);
        one GEMM of the stacked r-weighted per-component deviations against the
        shifted block gives every component's moments (errors grow with the distance
        between means over the spread, linearly)."""
        n, d = X.shape
        k = means.shape[0]
        d1 = d + 1
        s = np.zeros(d)
        for c in range(k):
            for j in range(d):
                s[j] += means[c, j]
        for j in range(d):
            s[j] /= k
        UTs = np.empty((k * d, d))
        off = np.zeros((k, d))  # U_c^T (mu_c - s)
        for c in range(k):
            for l in range(d):
                a = 0.0
                for j in range(d):
                    u = prec_chols[c, j, l]
                    UTs[c * d + l, j] = u
                    a += u * (means[c, j] - s[j])
                off[c, l] = a
        G = np.zeros((k * d1, d1))
        Q = np.empty((k, B))
        E = np.empty((k, B))
        w_sum = 0.0
        ll = 0.0
        ent = 0.0
        chk = 0.0
        for start in range(0, n, B):
            m = min(start + B, n) - start
            XR = np.empty((d, m))
            XS = np.empty((d1, m))
            for i in range(m):
                for j in range(d):
                    XR[j, i] = X[start + i, j]
            for j in range(d):
                sj = s[j]
                for i in range(m):
                    XS[j, i] = XR[j, i] - sj
            for i in range(m):
                XS[d, i] = 1.0
            Y = np.dot(UTs, XS[:d])  # (k d, m)
            for c in range(k):
                q = Q[c]
                for i in range(m):
                    q[i] = 0.0
                for l in range(d):
                    o = off[c, l]
                    yl = Y[c * d + l]
                    for i in range(m):
                        y = yl[i] - o
                        q[i] += y * y
                if c == 0:
                    for i in range(m):
                        chk += q[i]
                b = log_weights[c] + log_norms[c]
                for i in range(m):
                    q[i] = b - 0.5 * q[i]
            a, b_, e = _responsibilities1(Q, E, w, m, start)
            w_sum += a
            ll += b_
            ent += e
            V = np.empty((k * d1, m))
            for c in range(k):
                r = E[c]
                rs = 0.0
                for i in range(m):
                    rs += r[i]
                resp_sum[c] += rs
                for j in range(d):
                    mu = means[c, j]
                    v = V[c * d1 + j]
                    xr = XR[j]
                    for i in range(m):
                        v[i] = r[i] * (xr[i] - mu)
                v = V[c * d1 + d]
                for i in range(m):
                    v[i] = r[i]
            G += np.dot(V, XS.T)
        for c in range(k):
            g = G[c * d1:(c + 1) * d1]
            for j in range(d):
                s1[c, j] += g[j, d]
            for j in range(d):
                for l in range(j + 1):
                    # sum r (x - mu)_j (x - s)_l - s1_j (mu - s)_l, symmetrised
                    a = g[j, l] - g[j, d] * (means[c, l] - s[l])
                    bb = g[l, j] - g[l, d] * (means[c, j] - s[j])
                    v = 0.5 * (a + bb)
                    s2[c, j, l] += v
                    if l != j:
                        s2[c, l, j] += v
        return w_sum, ll, ent
    return full_v3


full_v3_384 = _make_full_v3(384)
full_v3_500 = _make_full_v3(500)
full_v3_640 = _make_full_v3(640)
full_v3_1000 = _make_full_v3(1000)
