"""Fit a latency profile from recorded (or imported) turns: ``al.Profile.fit(rec)``.

Each profile stage is read off the turns table where the table measures it (below), and
fitted by maximum likelihood: ``fixed`` when every value is the same, a lognormal, or a
mixture of two lognormals when the data is bimodal (endpointing's two modes) and the BIC
says the second component is worth its parameters. Long tails stay: nothing is clipped.
A stage the data does not measure keeps the base profile's distribution, and the report
says so. ``FitResult.report`` compares data and fit (n, p50, p95, the Kolmogorov-Smirnov
distance), ``FitResult.plot()`` draws a Q-Q plot per stage, ``FitResult.save(path)`` writes
a profile file ``al.simulate(..., profile=path)`` loads.

=====================  ==============================================================
stage                  read off the turns table as
=====================  ==============================================================
vad_silence_ms         ``seg_vad_ms``
transport_in_ms        ``seg_other_ms`` on turns that measured every stage (the
                       residual: time inside a ``tts`` hook before the built-in stage
                       would land here too; an imported trace's residual is what its
                       source did not measure, so it is not fitted)
stt_ms                 ``transcription_delay_ms - seg_other_ms``
endpointing_ms         ``seg_stt_ms + seg_endpointing_ms`` on turns where endpointing
                       waited (when the transcript came later, the turn detector's
                       delay is hidden: those turns are left out)
llm_ttft_ms            ``seg_llm_ttft_ms`` on turns without tools (with tools the
                       segment spans two requests)
tts_ttfb_ms            ``seg_tts_ttfb_ms``
transport_out_ms       ``seg_output_ms``
=====================  ==============================================================
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .profiles import Dist, Profile, load_profile

Z95 = 1.645  # the profiles' lognormal: sigma = ln(p95 / p50) / 1.645


def _stage_values(turns: Any) -> dict[str, np.ndarray]:
    """Each stage's values, as the module doc's table reads them (NaN-free)."""
    def col(name: str) -> np.ndarray:
        if name not in turns:
            return np.full(len(turns), np.nan)
        return turns[name].to_numpy(dtype=float, na_value=np.nan)

    waited = col("seg_endpointing_ms") > 0
    no_tools = ~(col("seg_tools_ms") > 0)  # NaN: the source measured no tool time
    # "other" is the transport in only where every stage before it was measured (an
    # imported trace's "other" is everything its source did not measure)
    transport_in = np.where(np.isfinite(col("seg_vad_ms")) & np.isfinite(col("seg_stt_ms")),
                            col("seg_other_ms"), np.nan)
    raw = {
        "vad_silence_ms": col("seg_vad_ms"),
        "transport_in_ms": transport_in,
        "stt_ms": col("transcription_delay_ms") - transport_in,
        "endpointing_ms": np.where(waited, col("seg_stt_ms") + col("seg_endpointing_ms"),
                                   np.nan),
        "llm_ttft_ms": np.where(no_tools, col("seg_llm_ttft_ms"), np.nan),
        "tts_ttfb_ms": col("seg_tts_ttfb_ms"),
        "transport_out_ms": col("seg_output_ms"),
    }
    return {stage: v[np.isfinite(v)] for stage, v in raw.items()}


def stage_values(source: Any) -> dict[str, np.ndarray]:
    """The values each stage is fitted on, from a Recorder or a turns DataFrame."""
    turns = getattr(source, "turns", source)
    if not hasattr(turns, "columns"):
        raise ConfigError(f"Profile.fit: takes a Recorder or a turns DataFrame, got "
                          f"{type(source).__name__}.")
    if "cancelled" in turns:  # a turn the call's end cut off measured nothing
        turns = turns[~turns["cancelled"].astype(bool)]
    return _stage_values(turns)


def fit_dist(x: np.ndarray, mixtures: bool = True) -> Dist:
    """The maximum-likelihood fixed, lognormal or two-lognormal mixture for ``x``."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        raise ConfigError("fit_dist: no values to fit.")
    if np.ptp(x) <= 1e-9 * max(1.0, abs(float(x[0]))):
        return Dist("fixed", {"value": float(x[0])})
    positive = x[x > 0]
    if len(positive) < 2:
        return Dist("fixed", {"value": float(np.median(x))})
    y = np.log(positive)
    one = _lognormal(float(y.mean()), float(y.std()))
    if not mixtures or len(y) < 40:
        return one
    ll_one = float(np.sum(_log_normal_pdf(y, y.mean(), y.std())))
    two = _two_gaussians(y)
    if two is None:
        return one
    (w, mu1, s1, mu2, s2), ll_two = two
    n = len(y)
    if 5 * math.log(n) - 2 * ll_two >= 2 * math.log(n) - 2 * ll_one:  # BIC
        return one
    return Dist("mixture", {}, ((w, _lognormal(mu1, s1)), (1 - w, _lognormal(mu2, s2))))


def _lognormal(mu: float, sigma: float) -> Dist:
    return Dist("lognormal", {"mu": mu, "sigma": max(sigma, 1e-9)})


def _log_normal_pdf(y: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    sigma = max(sigma, 1e-9)
    return -0.5 * ((y - mu) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))


def _two_gaussians(y: np.ndarray, iterations: int = 200):
    """EM for two Gaussians on log values, started at the lower and upper thirds."""
    lo, hi = np.quantile(y, [1 / 3, 2 / 3])
    w, mu1, mu2 = 0.5, float(y[y <= lo].mean()), float(y[y >= hi].mean())
    s1 = s2 = float(y.std()) / 2 or 1e-3
    ll = -math.inf
    for _ in range(iterations):
        a = np.log(w) + _log_normal_pdf(y, mu1, s1)
        b = np.log(1 - w) + _log_normal_pdf(y, mu2, s2)
        top = np.maximum(a, b)
        total = top + np.log(np.exp(a - top) + np.exp(b - top))
        new_ll = float(total.sum())
        r = np.exp(a - total)  # responsibility of component 1
        n1 = float(r.sum())
        if n1 < 2 or n1 > len(y) - 2:
            return None  # one component took everything: no second mode
        w = n1 / len(y)
        mu1, mu2 = float((r * y).sum() / n1), float(((1 - r) * y).sum() / (len(y) - n1))
        s1 = math.sqrt(float((r * (y - mu1) ** 2).sum() / n1)) or 1e-9
        s2 = math.sqrt(float(((1 - r) * (y - mu2) ** 2).sum() / (len(y) - n1))) or 1e-9
        if new_ll - ll < 1e-9:
            break
        ll = new_ll
    return (w, mu1, s1, mu2, s2), new_ll


@dataclass
class FitResult:
    """A fitted profile, the values it was fitted on, and how well it fits."""

    profile: Profile
    values: dict[str, np.ndarray]   # per fitted stage
    fitted_from: dict[str, str]     # per stage: "data" or "base"

    @property
    def report(self) -> Any:
        """One row per stage: where it came from, n, distribution, data vs fit p50/p95,
        and the Kolmogorov-Smirnov distance between them."""
        import pandas as pd

        rng = np.random.default_rng(0)
        rows = []
        for stage, dist in self.profile.stages.items():
            x = self.values.get(stage, np.array([]))
            sample = dist.sample_n(rng, 20_000)
            row = {"stage": stage, "from": self.fitted_from.get(stage, "base"), "n": len(x),
                   "dist": dist.kind + (f" x{len(dist.components)}" if dist.components
                                        else ""),
                   "p50_fit": float(np.median(sample)),
                   "p95_fit": float(np.quantile(sample, 0.95))}
            if len(x):
                row.update(p50_data=float(np.median(x)), p95_data=float(np.quantile(x, 0.95)),
                           ks=_ks(x, sample))
            rows.append(row)
        cols = ["stage", "from", "n", "dist", "p50_data", "p50_fit", "p95_data", "p95_fit",
                "ks"]
        return pd.DataFrame(rows).reindex(columns=cols)

    def plot(self) -> Any:
        """A Q-Q plot per fitted stage: the data's quantiles against the fit's."""
        import matplotlib.pyplot as plt

        stages = [s for s in self.profile.stages if len(self.values.get(s, ()))]
        cols = min(4, len(stages)) or 1
        rows = math.ceil(len(stages) / cols) or 1
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
        rng = np.random.default_rng(0)
        q = np.linspace(0.01, 0.99, 99)
        for ax, stage in zip(axes.flat, stages, strict=False):
            data = np.quantile(self.values[stage], q)
            fit = np.quantile(self.profile.stages[stage].sample_n(rng, 20_000), q)
            ax.plot(fit, data, ".", ms=3)
            lim = [min(data.min(), fit.min()), max(data.max(), fit.max())]
            ax.plot(lim, lim, lw=0.8, color="grey")
            ax.set_title(stage, fontsize=9)
            ax.set_xlabel("fit (ms)", fontsize=8)
            ax.set_ylabel("data (ms)", fontsize=8)
        for ax in list(axes.flat)[len(stages):]:
            ax.set_visible(False)
        fig.suptitle(f"{self.profile.name}: data vs fitted quantiles", fontsize=10)
        fig.tight_layout()
        return fig

    def save(self, path: str | Path) -> Path:
        """Write the profile as a JSON profile file (``al.load_profile(path)``)."""
        path = Path(path)
        stages = {name: _spec(d) for name, d in self.profile.stages.items()}
        path.write_text(json.dumps({
            "name": self.profile.name, "mode": self.profile.mode,
            "description": self.profile.description, "stages": stages,
            "sources": self.profile.sources}, indent=1) + "\n")
        return path


def _spec(dist: Dist) -> dict[str, Any]:
    if dist.kind == "fixed":
        return {"dist": "fixed", "value": dist.params["value"]}
    if dist.kind == "lognormal":
        mu, sigma = dist.params["mu"], dist.params["sigma"]
        return {"dist": "lognormal", "p50": math.exp(mu), "p95": math.exp(mu + Z95 * sigma)}
    return {"dist": "mixture", "components": [{"weight": w, **_spec(d)}
                                               for w, d in dist.components]}


def _ks(x: np.ndarray, sample: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance (the largest gap between the ECDFs)."""
    x, sample = np.sort(x), np.sort(sample)
    grid = np.concatenate([x, sample])
    a = np.searchsorted(x, grid, side="right") / len(x)
    b = np.searchsorted(sample, grid, side="right") / len(sample)
    return float(np.max(np.abs(a - b)))


def fit_profile(source: Any, name: str = "fitted",
                base: str | Profile = "deepgram-gpt4o-cartesia-webrtc",
                mixtures: bool = True, min_values: int = 20) -> FitResult:
    """See :meth:`Profile.fit`."""
    base_profile = load_profile(base)
    if base_profile.mode != "cascade":
        raise ConfigError(f"Profile.fit(base={base_profile.name!r}): the base must be a "
                          f"cascade profile; fitting speech-to-speech turns is not built.")
    values = stage_values(source)
    stages = dict(base_profile.stages)
    sources = dict(base_profile.sources)
    fitted_from = {}
    for stage, x in values.items():
        if len(x) >= min_values:
            stages[stage] = fit_dist(x, mixtures)
            sources[stage] = f"fitted from {len(x)} turns"
            fitted_from[stage] = "data"
    if not fitted_from:
        raise ConfigError(f"Profile.fit: no stage has {min_values} measured turns (the turns "
                          f"table has {len(getattr(source, 'turns', source))} rows).")
    profile = Profile(name=name, mode="cascade",
                      description=f"fitted by agentlab from recorded turns; unmeasured "
                                  f"stages from {base_profile.name}",
                      stages=stages, sources=sources)
    return FitResult(profile, {s: values[s] for s in fitted_from}, fitted_from)
