"""An independent, straightforward BFAST-Monitor for tests (NumPy + SciPy, one series at a time).

Written from R's bfast::bfastmonitor / strucchange (efp "Rec-CUSUM" and "OLS-MOSUM", mefp,
monitor, history_roc) and Verbesselt et al. (2012), sharing no code with landpulse's kernels:
least squares by ``numpy.linalg.lstsq`` (QR/SVD, not normal equations), recursive residuals by
refitting every prefix with QR, the MOSUM as explicit window sums ``sum(e[i:i+K])``, the ROC boundary
from ``scipy.optimize.brentq`` on the Brownian-motion p-value. Only the tabulated OLS-MOSUM
critical value (data) is shared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import brentq
from scipy.stats import norm

from landpulse.products.change.critvals import mosum_critical_value


def design(t: np.ndarray, order: int, trend: bool, trend_index: np.ndarray | None = None) -> np.ndarray:
    """R bfastpp regressors: (Intercept), trend, harmoncos1..order, harmonsin1..order."""
    cols = [np.ones_like(t)]
    if trend:
        cols.append(t - t[0] if trend_index is None else trend_index)
    cols += [np.cos(2 * np.pi * j * t) for j in range(1, order + 1)]
    cols += [np.sin(2 * np.pi * j * t) for j in range(1, order + 1)]
    return np.column_stack(cols)


def _bm_pvalue(x: float) -> float:
    if x < 0.3:
        return 1 - 0.1465 * x
    return 2 * (1 - norm.cdf(3 * x) + math.exp(-4 * x**2) * (norm.cdf(x) + norm.cdf(5 * x) - 1)
                - math.exp(-16 * x**2) * (1 - norm.cdf(x)))


def recresid(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Recursive residuals (Brown, Durbin & Evans 1975) by refitting each prefix with QR.

    ``x' (X'X)^-1 x = |R^-T x|^2`` from the QR factor (no normal equations). A prefix whose R has
    a diagonal entry below 1e-6 of its column's norm is treated as singular (landpulse then skips
    the ROC test; R's lm.fit would pivot the column out).
    """
    n, k = X.shape
    w = []
    for r in range(k, n):
        Xr, yr = X[:r], y[:r]
        q, rr = np.linalg.qr(Xr)
        if np.any(np.abs(np.diag(rr)) < 1e-6 * np.linalg.norm(Xr, axis=0)):
            raise np.linalg.LinAlgError("singular recursive fit")
        beta = solve_triangular(rr, q.T @ yr)
        z = solve_triangular(rr.T, X[r], lower=True)
        w.append((y[r] - X[r] @ beta) / math.sqrt(1 + z @ z))
    return np.asarray(w)


def history_roc(X: np.ndarray, y: np.ndarray, level: float) -> int:
    """Index (0-based) of the first observation of the stable history (R history_roc)."""
    n, k = X.shape
    if n <= k + 1:  # too short for the test (landpulse keeps the whole history, as here)
        return 0
    try:
        w = recresid(X[::-1], y[::-1])
    except np.linalg.LinAlgError:
        return 0
    sigma = np.std(w, ddof=1)
    if not sigma > 0:
        return 0
    process = np.concatenate([[0.0], np.cumsum(w)]) / (sigma * math.sqrt(n - k))
    lam = brentq(lambda v: _bm_pvalue(v) - level, 0.3, 20, xtol=1e-12)
    m = len(process) - 1
    bound = lam + 2 * lam * np.arange(m + 1) / m
    cross = np.flatnonzero(np.abs(process[1:]) > bound[1:])
    if cross.size == 0:
        return 0
    j = int(cross[0]) + 1           # R: min(which(...)) (1-based)
    y_start = len(process) - j + 1  # R (1-based)
    return y_start - 1


@dataclass
class Result:
    breakpoint: float
    magnitude: float
    history_start: float
    n_history: int
    n_monitor: int
    sigma: float
    coef: np.ndarray


def bfastmonitor(y: np.ndarray, t: np.ndarray, start: float, *, order: int = 3, trend: bool = True,
                 history: str | float = "roc", h: float = 0.25, end: int = 10, level: float = 0.05,
                 trend_index: np.ndarray | None = None) -> Result | None:
    """One series; NaN dropped (na.omit). None when R would give NA (too few observations)."""
    ok = np.isfinite(y)
    y, t = y[ok], t[ok]
    ti = trend_index[ok] if trend_index is not None else None
    X = design(t, order, trend, ti)
    hist = t < start
    Xh, yh = X[hist], y[hist]
    if history == "roc":
        first = history_roc(Xh, yh, level)
    elif history == "all":
        first = 0
    else:
        first = int(np.searchsorted(t[hist], float(history)))
    Xh, yh = Xh[first:], yh[first:]
    n, k = Xh.shape
    n_mon = int(np.sum(~hist))
    if math.floor(h * n) <= 1 or n <= k:
        return None
    coef = np.linalg.lstsq(Xh, yh, rcond=None)[0]
    e_hist = yh - Xh @ coef
    sigma = math.sqrt(np.sum(e_hist**2) / (n - k))
    test = slice(int(np.flatnonzero(hist)[0]) + first, None)
    Xt, yt, tt = X[test], y[test], t[test]
    e = yt - Xt @ coef
    K = math.floor(h * n)
    lam = mosum_critical_value(h, end, level)
    bp = math.nan
    for m in range(n + 1, len(e) + 1):  # window ending at observation m (1-based)
        proc = np.sum(e[m - K:m]) / (sigma * math.sqrt(n))
        ratio = m / n
        bound = lam * math.sqrt(2 * (1.0 if ratio <= math.e else math.log(ratio)))
        if abs(proc) > bound:
            bp = float(tt[m - 1])
            break
    mag = float(np.median(e[tt >= start])) if n_mon else math.nan
    return Result(bp, mag, float(t[hist][first]), n, n_mon, sigma, coef)
