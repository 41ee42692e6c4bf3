#!/usr/bin/env python3
"""An independent check of the sample-quality metrics of include/gantry/eval.h
against numpy/scipy.

usage: eval_scipy.py EVAL_NPY_EXE [BACKEND]

Fixed inputs (np.random.default_rng with fixed seeds) are written as float32
.npy files and given to tests/eval_npy.c; the references are computed here
in float64 from the same float32 values:
  - the Frechet distance (gantry_frechet_distance, `eval_npy --fd`) of two
    random SPD 64x64 covariances, of two rank-deficient ones (40 samples of
    dim 64) and of identical inputs, against
    |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrtm(S1 S2) (scipy.linalg.sqrtm);
  - every metric of gantry_eval_compare on fixed features and
    probabilities: FD (covariances with n - 1), IS, covered classes, class
    KL and Kynkaenniemi et al. 2019 precision and recall with k = 3 (brute
    force float64 distances), on 600 real and 500 generated points, on the
    same with a generated class no real image has (class_kl's rule for it),
    and on 4200 and 4100 points (the pairwise products in several blocks).
Prints PASS or FAIL per check and exits 1 on any failure.  numpy and scipy
are required: without them the test fails (it does not skip).
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import scipy
    import scipy.linalg
except ImportError as e:
    # The python3 meson found may be another interpreter than the
    # distribution's (pyenv): try that one before failing.
    if not os.environ.get("GANTRY_EVAL_SCIPY_REEXEC"):
        for py in ("/usr/bin/python3", "/usr/local/bin/python3"):
            if os.path.realpath(py) == os.path.realpath(sys.executable) or not os.access(py, os.X_OK):
                continue
            if subprocess.call([py, "-c", "import numpy, scipy.linalg"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) == 0:
                os.environ["GANTRY_EVAL_SCIPY_REEXEC"] = "1"
                os.execv(py, [py] + sys.argv)
    print("FAIL: %s is not installed for %s (Debian: apt-get install python3-numpy python3-scipy); "
          "this test needs numpy and scipy" % (e.name, sys.executable))
    sys.exit(1)

K = 3                 # GANTRY_EVAL_K
COVER_SHARE = 0.2     # GANTRY_EVAL_COVER_SHARE

failures = 0


def check(name, ok, text):
    global failures
    print("%s: %s: %s" % ("PASS" if ok else "FAIL", name, text))
    failures += not ok


def f32(x):
    """The float32 values the C side reads, as float64."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def run(exe, args):
    r = subprocess.run([exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        print("eval_npy %s: exit %d\n%s%s" % (" ".join(os.path.basename(a) for a in args), r.returncode, r.stdout,
                                               r.stderr))
        return None
    try:
        return json.loads(r.stdout)
    except ValueError:
        print("eval_npy: not one JSON object:\n" + r.stdout + r.stderr)
        return None


def save(tmp, name, x):
    path = os.path.join(tmp, name + ".npy")
    np.save(path, np.ascontiguousarray(x, dtype=np.float32))
    return path


# ---- references ----------------------------------------------------------------------------

def fd_sqrtm(mu1, s1, mu2, s2):
    """The FID formula with scipy's sqrtm, in float64."""
    r = scipy.linalg.sqrtm(s1 @ s2)
    if isinstance(r, tuple):  # older scipy with disp=False
        r = r[0]
    d = mu1 - mu2
    return float(d @ d + np.trace(s1) + np.trace(s2) - 2 * np.trace(r).real)


def fd_eigh(mu1, s1, mu2, s2):
    """The same through symmetric eigen-decompositions: tr sqrt(A^1/2 S2 A^1/2), A = S1 (a second opinion)."""
    w, v = np.linalg.eigh(s1)
    a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = a @ s2 @ a
    e = np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)
    d = mu1 - mu2
    return float(d @ d + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(e).sum())


def sq_dists(x, y):
    """Squared Euclidean distances [len(x), len(y)] by differences in float64."""
    out = np.empty((len(x), len(y)))
    for i in range(0, len(x), 64):
        d = x[i:i + 64, None, :] - y[None, :, :]
        out[i:i + 64] = np.einsum("ijk,ijk->ij", d, d)
    return out


def knn_radii_sq(x, k):
    """Squared distance of each point to its k-th nearest other point of x."""
    d = sq_dists(x, x)
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def manifold_share(radii_sq, centres, queries, slack=0.0):
    """Fraction of queries within the radius of at least one centre (distance <= radius), and how many
    queries decide differently when every radius is moved by +-slack (relative): the borderline ones."""
    d = sq_dists(queries, centres)
    inside = (d <= radii_sq[None, :]).any(axis=1)
    if slack:
        lo = (d <= radii_sq[None, :] * (1 - slack)).any(axis=1)
        hi = (d <= radii_sq[None, :] * (1 + slack)).any(axis=1)
        return inside.mean(), int((lo != hi).sum())
    return inside.mean(), 0


def class_shares(probs, classes):
    return np.bincount(probs.argmax(axis=1), minlength=classes) / len(probs)


def reference_metrics(rf, rp, ff, fp):
    """Every metric of gantry_eval_compare from float64 copies of the float32 inputs."""
    classes = rp.shape[1]
    m = {}
    mu_r, mu_f = rf.mean(axis=0), ff.mean(axis=0)
    s_r, s_f = np.cov(rf, rowvar=False, ddof=1), np.cov(ff, rowvar=False, ddof=1)
    m["fd"] = fd_sqrtm(mu_r, s_r, mu_f, s_f)
    m["fd_eigh"] = fd_eigh(mu_r, s_r, mu_f, s_f)
    pbar = fp.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(fp > 0, fp * (np.log(fp) - np.log(pbar)[None, :]), 0.0)
    m["is"] = float(np.exp(terms.sum(axis=1).mean()))
    real_share, fake_share = class_shares(rp, classes), class_shares(fp, classes)
    m["real_share"], m["fake_share"] = real_share, fake_share
    m["covered"] = int(((fake_share >= COVER_SHARE * real_share) & (real_share > 0)).sum())
    # A class the real images lack: core/eval/metrics.c (gantry_eval_compare) counts it as half a real
    # image, real share 0.5 / n_real; mirrored here.
    q = np.where(real_share > 0, real_share, 0.5 / len(rp))
    kl = 0.0
    for c in range(classes):
        if fake_share[c] > 0:
            kl += fake_share[c] * np.log(fake_share[c] / q[c])
    m["class_kl"] = float(kl)
    r_real, r_fake = knn_radii_sq(rf, K), knn_radii_sq(ff, K)
    m["precision"], m["precision_borderline"] = manifold_share(r_real, rf, ff, slack=1e-4)
    m["recall"], m["recall_borderline"] = manifold_share(r_fake, ff, rf, slack=1e-4)
    return m


# ---- inputs ------------------------------------------------------------------------------------

def spd_case(rng, dim, n, scale=1.0, shift=0.0):
    """A mean and a covariance A A^T / n of random data (float32)."""
    a = rng.standard_normal((dim, n)) * scale
    mix = np.eye(dim) + 0.3 * rng.standard_normal((dim, dim)) / np.sqrt(dim)
    a = mix @ a
    s = a @ a.T / n
    s = (s + s.T) / 2
    mu = rng.standard_normal(dim) * 0.5 + shift
    return np.float32(mu), np.float32(s)


def rank_deficient_case(rng, dim, n, scale=1.0, shift=0.0):
    """Mean and covariance (n - 1) of n < dim samples: rank n - 1 (float32)."""
    x = rng.standard_normal((n, dim)) * scale + shift
    s = np.cov(x, rowvar=False, ddof=1)
    s = (s + s.T) / 2
    return np.float32(x.mean(axis=0)), np.float32(s)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def feature_case(rng, n_real=600, n_fake=500, dim=32, classes=10):
    """Real: 10 Gaussian clusters, one per class.  Fake: the clusters shifted and widened, skewed
    towards a few classes (7 and 8 below a fifth of their real share, 9 absent), plus two
    collapsed modes (points within 0.02 of one spot)."""
    centres = rng.standard_normal((classes, dim)) * 2.5
    real_lab = np.arange(n_real) % classes
    rng.shuffle(real_lab)
    rf = centres[real_lab] + rng.standard_normal((n_real, dim))
    rp = softmax(rng.standard_normal((n_real, classes)) + 4.0 * np.eye(classes)[real_lab])
    weights = np.array([0.22, 0.18, 0.14, 0.12, 0.11, 0.10, 0.09, 0.01, 0.015, 0.0])
    weights /= weights.sum()
    n_collapsed = 40
    fake_lab = rng.choice(classes, size=n_fake, p=weights)
    shift = 0.3 * rng.standard_normal(dim)
    ff = centres[fake_lab] * 1.05 + shift + 1.2 * rng.standard_normal((n_fake, dim))
    # two collapsed modes: 20 points each around one spot (a generator stuck on one image)
    for j, c in enumerate((2, 4)):
        rows = slice(j * n_collapsed // 2, (j + 1) * n_collapsed // 2)
        fake_lab[rows] = c
        ff[rows] = centres[c] + 0.5 * rng.standard_normal(dim) + 0.02 * rng.standard_normal((n_collapsed // 2, dim))
    fp = softmax(rng.standard_normal((n_fake, classes)) + 3.5 * np.eye(classes)[fake_lab])
    return np.float32(rf), np.float32(rp), np.float32(ff), np.float32(fp)


def swap_argmax(p, rows, new):
    """Each row of p gets its largest probability at class new[i] (two entries swapped): still a distribution."""
    p = p.copy()
    for i, c in zip(rows, new):
        a = p[i].argmax()
        p[i, a], p[i, c] = p[i, c], p[i, a]
    return p


def absent_class_case(rf, rp, ff, fp):
    """The same sets with a class the real images lack (9: no real argmax there) that 15 generated images
    hold: class_kl's rule for a real share of 0."""
    classes = rp.shape[1]
    rows = np.flatnonzero(rp.argmax(axis=1) == classes - 1)
    rp = swap_argmax(rp, rows, rows % (classes - 1))
    fp = swap_argmax(fp, range(100, 115), [classes - 1] * 15)
    return rf, rp, ff, fp


# ---- checks ------------------------------------------------------------------------------------

def check_fd(exe, tmp, name, mu1, s1, mu2, s2, identical=False):
    paths = [save(tmp, name + "_" + k, v) for k, v in (("mu1", mu1), ("cov1", s1), ("mu2", mu2), ("cov2", s2))]
    out = run(exe, ["--fd"] + paths)
    if out is None:
        check("fd " + name, False, "eval_npy failed")
        return
    m1, c1, m2, c2 = f32(mu1), f32(s1), f32(mu2), f32(s2)
    want, want_eigh = fd_sqrtm(m1, c1, m2, c2), fd_eigh(m1, c1, m2, c2)
    got = out["fd"]
    if identical:
        scale = np.trace(c1) + np.trace(c2)
        check("fd " + name, abs(got) < 1e-9 * scale,
              "C %.17g, |fd| / (tr S1 + tr S2) = %.3g (limit 1e-9); scipy %.3g, eigh %.3g"
              % (got, abs(got) / scale, want, want_eigh))
    else:
        check("fd " + name, rel(got, want) <= 1e-6,
              "C %.17g scipy sqrtm %.17g rel %.3g (limit 1e-6); eigh reference %.17g (rel to sqrtm %.3g)"
              % (got, want, rel(got, want), want_eigh, rel(want_eigh, want)))


def check_compare(exe, tmp, backend, name, rf, rp, ff, fp):
    paths = [save(tmp, name + "_" + k, v) for k, v in (("real_features", rf), ("real_probs", rp),
                                                       ("fake_features", ff), ("fake_probs", fp))]
    out = run(exe, paths + [backend])
    if out is None:
        check(name, False, "eval_npy failed")
        return
    ref = reference_metrics(f32(rf), f32(rp), f32(ff), f32(fp))
    print("%s: C: %s" % (name, json.dumps(out)))
    print("%s: real class shares: %s" % (name, " ".join("%.4f" % v for v in ref["real_share"])))
    print("%s: fake class shares: %s" % (name, " ".join("%.4f" % v for v in ref["fake_share"])))
    sizes = (out.get("n_real"), out.get("n_fake"), out.get("dim"), out.get("classes"))
    check(name + " sizes", sizes == (len(rf), len(ff), rf.shape[1], rp.shape[1]),
          "C n_real %s n_fake %s dim %s classes %s" % sizes)
    check(name + " fd", rel(out["fd"], ref["fd"]) <= 1e-5,
          "C %.17g scipy %.17g rel %.3g (limit 1e-5); eigh reference %.17g"
          % (out["fd"], ref["fd"], rel(out["fd"], ref["fd"]), ref["fd_eigh"]))
    check(name + " is", rel(out["is"], ref["is"]) <= 1e-6,
          "C %.17g numpy %.17g rel %.3g (limit 1e-6)" % (out["is"], ref["is"], rel(out["is"], ref["is"])))
    check(name + " covered", out["covered"] == ref["covered"],
          "C %s numpy %d of %d" % (out["covered"], ref["covered"], rp.shape[1]))
    check(name + " class_kl", rel(out["class_kl"], ref["class_kl"]) <= 1e-6,
          "C %.17g numpy %.17g rel %.3g (limit 1e-6)"
          % (out["class_kl"], ref["class_kl"], rel(out["class_kl"], ref["class_kl"])))
    for key, n in (("precision", len(ff)), ("recall", len(rf))):
        got, want = out[key], ref[key]
        points = int(round(abs(got - want) * n))
        check(name + " " + key, abs(got - want) <= 2.0 / n + 1e-12,
              "C %.17g numpy %.17g: %d of %d points decide differently (limit 2); %d borderline in the "
              "reference (a radius moved by 1e-4 relative flips them)"
              % (got, want, points, n, ref[key + "_borderline"]))
    check(name + " non-trivial", 0.05 < ref["precision"] < 0.95 and 0.05 < ref["recall"] < 0.95
          and ref["covered"] < rp.shape[1] and 1 < ref["is"] < rp.shape[1],
          "the inputs exercise the metrics: precision %.3f recall %.3f covered %d is %.3f"
          % (ref["precision"], ref["recall"], ref["covered"], ref["is"]))


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        sys.exit(2)
    exe = os.path.abspath(sys.argv[1])
    backend = sys.argv[2] if len(sys.argv) == 3 else "cpu"
    print("numpy %s, scipy %s, python %s; backend %s" % (np.__version__, scipy.__version__, sys.executable, backend))
    with tempfile.TemporaryDirectory(prefix="eval_scipy.") as tmp:
        # -- Frechet distance of fixed Gaussians
        rng = np.random.default_rng(20190419)
        mu1, s1 = spd_case(rng, 64, 500)
        mu2, s2 = spd_case(rng, 64, 300, scale=1.3, shift=0.2)
        check_fd(exe, tmp, "spd_64", mu1, s1, mu2, s2)
        mu3, s3 = rank_deficient_case(rng, 64, 40)
        mu4, s4 = rank_deficient_case(rng, 64, 40, scale=1.2, shift=0.1)
        check_fd(exe, tmp, "rank_deficient_64_n40", mu3, s3, mu4, s4)
        # one side full rank, the other rank 39
        check_fd(exe, tmp, "spd_vs_rank_deficient", mu1, s1, mu4, s4)
        check_fd(exe, tmp, "identical_spd_64", mu1, s1, mu1.copy(), s1.copy(), identical=True)

        # -- every metric on fixed features and probabilities
        rng = np.random.default_rng(1706)
        sets = feature_case(rng)
        check_compare(exe, tmp, backend, "compare", *sets)
        # -- and with a generated class that no real image has
        check_compare(exe, tmp, backend, "compare_absent_class", *absent_class_case(*sets))
        # -- sets large enough that core/eval/metrics.c takes the pairwise products in two blocks of
        #    rows (more than 16 Mi products: 4200 x 4200 and 4100 x 4200), the last one short
        rng = np.random.default_rng(2019)
        check_compare(exe, tmp, backend, "compare_blocks", *feature_case(rng, n_real=4200, n_fake=4100))
    print("%d check(s) failed" % failures if failures else "all checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
