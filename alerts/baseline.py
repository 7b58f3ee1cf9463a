"""Expected daily counts per area: a citywide count regression times each area's share.

In the spirit of Farrington / Noufaily, but pooled so that thousands of sparse grids need no
model each: a quasi-Poisson GLM (statsmodels) fits the city's daily total of a signal with
day-of-week and yearly Fourier terms (and a trend when it is significant), refitted every week
on the data before a guard gap; with less than a year of history it falls back to a local
level-plus-weekday model on recent weeks. Each area's expected count is its share of the city
total over a trailing window, shrunk for sparse areas:

    area volume   n^_a = m_a (n_a + kappa) / (m_a + kappa)     m_a = parent's count / siblings
    signal risk   theta = (n_as + alpha) / (e_as + alpha)      e_as = n^_a * N_s / N
    expected      mu_t = theta * n^_a / N * F_t                F_t = fitted city total

so that an area's count over w days has a negative-binomial predictive distribution with
shape n_as + alpha (gamma-Poisson), widened by the GLM's overdispersion.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from alerts.panel import CountPanel


@dataclass(frozen=True)
class BaselineSettings:
    refit_every: int = 7  # days between model refits
    guard_days: int = 7  # recent days kept out of every fit, so an outbreak cannot hide itself
    min_history: int = 28  # days of data before any expectation is given
    seasonal_history: int = 365  # days of data before yearly terms are fitted
    local_window: int = 56  # days the short-history fallback fits on
    max_history: int = 3 * 365
    harmonics: int = 2
    share_window: int = 365  # trailing days that set each area's share
    area_prior: float = 3.0  # kappa: pseudo-cases pulling a sparse area towards its siblings
    signal_prior: float = 2.0  # alpha: pseudo-cases pulling a signal's share towards the mix
    dispersion_window: int = 91  # trailing days that set each series' own over-dispersion
    dispersion_prior: float = 10.0  # expected cases of pseudo-data at dispersion 1 (sparse series)
    min_own_days: int = 7  # days of a series' own past against its baseline before a verdict


@dataclass
class Baseline:
    """Expected counts of one signal: per area and day, with what the tests need."""

    expected: np.ndarray  # (areas x days) expected count per day
    shape: np.ndarray  # (areas x days) negative-binomial shape of the predictive distribution
    dispersion: np.ndarray  # (days,) quasi-Poisson dispersion of the citywide fit, >= 1
    valid: np.ndarray  # (days,) True where a model was available
    model: np.ndarray  # (days,) 'seasonal' | 'local' | '' (no model yet)

    def tail(self, days: int) -> Baseline:
        """The last `days` days only (views, no copies)."""
        return Baseline(self.expected[:, -days:], self.shape[:, -days:], self.dispersion[-days:],
                        self.valid[-days:], self.model[-days:])


def city_rows(panel: CountPanel) -> np.ndarray:
    """Indices of the city-level areas (one for a hub that serves one city)."""
    return panel.areas.at_level("city")


def citywide_profile(series: np.ndarray, days: pd.DatetimeIndex, cfg: BaselineSettings,
                     from_day: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fitted daily total, dispersion and model name for every day, each from past data only.

    Days before from_day are left without a model (NaN), which saves the refits a run that
    judges only recent days does not need; refits stay on the same weekly schedule.
    """
    n = len(series)
    fitted = np.full(n, np.nan)
    dispersion = np.ones(n)
    model = np.full(n, "", dtype=object)
    design, names = _design(days, cfg.harmonics)
    local = [i for i, name in enumerate(names) if name == "const" or name.startswith("dow")]
    seasonal = list(range(len(names)))
    trend = names.index("trend")
    first_refit = cfg.min_history + cfg.guard_days
    skipped = max(0, (from_day - first_refit) // cfg.refit_every)
    for refit in range(first_refit + skipped * cfg.refit_every, n, cfg.refit_every):
        train_end = refit - cfg.guard_days  # also the days of data this fit may use
        upto = min(refit + cfg.refit_every, n)
        if train_end >= cfg.seasonal_history:
            lo, columns, name = max(0, train_end - cfg.max_history), seasonal, "seasonal"
        else:
            lo, columns, name = max(0, train_end - cfg.local_window), local, "local"
        mean, phi = _fit_predict(series[lo:train_end], design[lo:train_end], design[refit:upto],
                                 columns, trend)
        fitted[refit:upto] = mean
        dispersion[refit:upto] = phi
        model[refit:upto] = name
    return fitted, dispersion, model


def _design(days: pd.DatetimeIndex, harmonics: int) -> tuple[np.ndarray, list[str]]:
    """Regressors for every day: constant, weekdays, trend (years), yearly Fourier terms."""
    columns = {"const": np.ones(len(days))}
    dow = days.dayofweek.to_numpy()
    for d in range(1, 7):
        columns[f"dow{d}"] = (dow == d).astype(float)
    columns["trend"] = np.arange(len(days)) / 365.25
    year = 2 * np.pi * days.dayofyear.to_numpy() / 365.25
    for k in range(1, harmonics + 1):
        columns[f"cos{k}"] = np.cos(k * year)
        columns[f"sin{k}"] = np.sin(k * year)
    return np.column_stack(list(columns.values())), list(columns)


def _fit_predict(y: np.ndarray, x: np.ndarray, x_new: np.ndarray, columns: list[int],
                 trend: int) -> tuple[np.ndarray, float]:
    """Quasi-Poisson GLM; the trend stays only when significant (as Farrington drops it)."""
    if y.sum() == 0:
        return np.zeros(len(x_new)), 1.0
    # A regressor constant over the window (a weekday never seen) would make the fit singular.
    columns = [c for c in columns if c == 0 or np.ptp(x[:, c]) > 0]
    result = _glm(y, x[:, columns])
    if trend in columns and result.pvalues[columns.index(trend)] > 0.05:
        columns = [c for c in columns if c != trend]
        result = _glm(y, x[:, columns])
    phi = max(float(result.scale), 1.0)
    return np.asarray(result.predict(x_new[:, columns])), phi


def _glm(y: np.ndarray, x: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, PerfectSeparationWarning, RuntimeWarning))
        return sm.GLM(y, x, family=sm.families.Poisson()).fit(scale="X2")


@dataclass
class Volumes:
    """Trailing all-case counts per area from day from_day on, shared by every signal of a panel."""

    smoothed: np.ndarray  # (areas x days from from_day) n^_a
    city_total: np.ndarray  # (days from from_day,) N
    from_day: int = 0


def area_volumes(panel: CountPanel, cfg: BaselineSettings, from_day: int = 0) -> Volumes:
    """Each area's smoothed trailing case count and the city's, for every day from from_day."""
    area_total = _trailing_window(panel.total, cfg, from_day)
    city_total = area_total[city_rows(panel)].sum(axis=0)
    return Volumes(smoothed=_smoothed_volume(panel, area_total, cfg.area_prior), city_total=city_total,
                   from_day=from_day)


def _trailing_window(counts: np.ndarray, cfg: BaselineSettings, from_day: int = 0) -> np.ndarray:
    """Sums over the share window that stops guard_days before each day (zero before data),
    for the days from from_day on."""
    n_days = counts.shape[1]
    # Day t sums days [t - guard - window + 1, t - guard]: cumsum at t - guard minus cumsum at
    # t - guard - window; the cumsum is never needed past n_days - guard.
    lag = cfg.guard_days
    far = lag + cfg.share_window
    cumulative = counts[:, :max(n_days - lag, 0)].cumsum(axis=1)
    out = np.zeros((counts.shape[0], n_days - from_day), dtype=cumulative.dtype)
    first = max(from_day, lag)
    if first < n_days:
        out[:, first - from_day:] = cumulative[:, first - lag:n_days - lag]
    first = max(from_day, far)
    if first < n_days:
        out[:, first - from_day:] -= cumulative[:, first - far:n_days - far]
    return out


def area_baseline(panel: CountPanel, signal: str, cfg: BaselineSettings,
                  volumes: Volumes | None = None, from_day: int = 0) -> Baseline:
    """Expected counts of `signal` for every area and day of the panel; days before from_day
    get none (not valid, expected and shape 0), which spares a run judging recent days the
    work on the rest of its history (volumes, if given, must start on or before from_day)."""
    volumes = volumes or area_volumes(panel, cfg, from_day)
    skip = from_day - volumes.from_day
    if skip < 0:
        raise ValueError(f"volumes from day {volumes.from_day} cannot serve a baseline from day {from_day}")
    smoothed, city_total = volumes.smoothed[:, skip:], volumes.city_total[skip:]
    counts = panel.counts[signal]
    city = city_rows(panel)
    fitted, dispersion, model = citywide_profile(counts[city].sum(axis=0), panel.days, cfg, from_day)
    fitted = fitted[from_day:]
    area_signal = _trailing_window(counts, cfg, from_day)
    city_signal = area_signal[city].sum(axis=0)
    valid = np.zeros(len(panel.days), dtype=bool)
    judged = valid[from_day:]
    judged[:] = ~np.isnan(fitted) & (city_total > 0)
    safe_total = np.where(judged, city_total, 1.0)
    mix = np.where(judged, city_signal / safe_total, 0.0)
    per_case = np.where(judged, np.nan_to_num(fitted) / safe_total, 0.0)  # city cases per trailing case
    # expected = (n_as + alpha) / (n^_a * mix + alpha) * n^_a * F / N, in place to spare memory.
    shape = np.zeros(counts.shape)
    np.add(area_signal, cfg.signal_prior, out=shape[:, from_day:])
    denominator = smoothed * mix
    denominator += cfg.signal_prior
    expected = np.zeros(counts.shape)
    recent = np.divide(shape[:, from_day:], denominator, out=expected[:, from_day:])
    recent *= smoothed
    recent *= per_case
    return Baseline(expected=expected, shape=shape, dispersion=dispersion, valid=valid, model=model)


def _smoothed_volume(panel: CountPanel, area_total: np.ndarray, prior: float) -> np.ndarray:
    """Each area's trailing case count, pulled towards an equal split of its parent's."""
    parent = panel.areas.parent
    has_parent = parent >= 0
    siblings = np.bincount(parent[has_parent], minlength=len(parent))
    split = np.zeros_like(area_total)
    split[has_parent] = area_total[parent[has_parent]] / siblings[parent[has_parent]][:, None]
    smoothed = split * (area_total + prior) / (split + prior)
    return np.where(has_parent[:, None], smoothed, area_total)


def own_history(baseline: Baseline, counts: np.ndarray, cfg: BaselineSettings) -> tuple[Baseline, np.ndarray]:
    """The baseline corrected by each series' own recent past: its level and its spread.

    Over the dispersion window that stops guard_days before each day, a series' level is
    r = (sum x + m0) / (sum mu + m0) and its over-dispersion around r mu is
    phi = (sum (x - r mu)^2 / r + m0) / (sum mu + m0), at least 1. Real series drift from
    their share of the city (an area policed differently this season) and vary more than
    Poisson, each by its own amount; m0 pulls a sparse series, whose few cases say little,
    towards its share and Poisson. Days with fewer than min_own_days of that past get no
    verdict. Returns the corrected baseline and phi (areas x days).
    """
    valid = baseline.valid[None, :]
    mu = np.where(valid, np.nan_to_num(baseline.expected), 0.0)
    x = np.where(valid, counts, 0.0)
    window = BaselineSettings(guard_days=cfg.guard_days, share_window=cfg.dispersion_window)
    mass = _trailing_window(mu, window)
    seen = _trailing_window(x, window)
    level = (seen + cfg.dispersion_prior) / (mass + cfg.dispersion_prior)
    # sum (x - r mu)^2 = sum x^2 - 2 r sum x mu + r^2 sum mu^2, with r fixed per day.
    squares = _trailing_window(x * x, window)
    cross = _trailing_window(x * mu, window)
    mu_squares = _trailing_window(mu * mu, window)
    spread = np.maximum(squares - 2 * level * cross + level**2 * mu_squares, 0.0) / level
    dispersion = np.maximum((spread + cfg.dispersion_prior) / (mass + cfg.dispersion_prior), 1.0)
    days = _trailing_window(baseline.valid[None, :].astype(float), window)[0]
    corrected = Baseline(expected=baseline.expected * level, shape=baseline.shape,
                         dispersion=baseline.dispersion, valid=baseline.valid & (days >= cfg.min_own_days),
                         model=baseline.model)
    return corrected, dispersion
