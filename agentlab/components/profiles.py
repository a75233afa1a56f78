"""Latency profiles: named sets of per-stage delay distributions (``agentlab/data/profiles``).

A stage is ``fixed`` (``value``), ``lognormal`` (fitted from ``p50``/``p95``:
mu = ln p50, sigma = ln(p95/p50)/1.645, optional ``outlier`` = {p, low, high} multiplying a
fraction of samples by 3-10x for real tails) or a ``mixture`` of weighted components.

>>> import numpy as np
>>> p = load_profile("deepgram-gpt4o-cartesia-webrtc")
>>> 150 < p.sample("stt_ms", np.random.default_rng(0)) < 2000
True
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

PROFILE_DIR = Path(__file__).resolve().parents[1] / "data" / "profiles"
STAGES = ("transport_in_ms", "vad_silence_ms", "stt_ms", "endpointing_ms", "llm_ttft_ms",
          "llm_tokens_per_s", "tts_ttfb_ms", "tts_leading_silence_ms", "transport_out_ms")
S2S_STAGES = ("client_to_backend_ms", "backend_to_model_ms", "model_processing_ms",
              "model_to_backend_ms", "backend_to_client_ms")


@dataclass(frozen=True)
class Dist:
    """One stage's delay distribution."""

    kind: str
    params: dict[str, Any]
    components: tuple[tuple[float, Dist], ...] = ()

    @classmethod
    def parse(cls, spec: Any, where: str) -> Dist:
        if isinstance(spec, (int, float)):
            return cls("fixed", {"value": float(spec)})
        if not isinstance(spec, dict) or "dist" not in spec:
            raise ConfigError(f"{where}: expected a number or an object with 'dist' "
                              f"(fixed, lognormal or mixture), got {spec!r}.")
        kind = spec["dist"]
        if kind == "fixed":
            return cls("fixed", {"value": float(spec["value"])})
        if kind == "lognormal":
            p50, p95 = float(spec["p50"]), float(spec["p95"])
            if not 0 < p50 <= p95:
                raise ConfigError(f"{where}: lognormal needs 0 < p50 <= p95, got "
                                  f"p50={p50}, p95={p95}.")
            params = {"mu": math.log(p50), "sigma": math.log(p95 / p50) / 1.645}
            if "outlier" in spec:
                o = spec["outlier"]
                params.update(out_p=float(o["p"]), out_low=float(o.get("low", 3)),
                              out_high=float(o.get("high", 10)))
            return cls("lognormal", params)
        if kind == "mixture":
            comps = tuple((float(c["weight"]), cls.parse(c, f"{where}.components[{i}]"))
                          for i, c in enumerate(spec["components"]))
            total = sum(w for w, _ in comps)
            return cls("mixture", {}, tuple((w / total, d) for w, d in comps))
        raise ConfigError(f"{where}: unknown dist {kind!r}; use fixed, lognormal or mixture.")

    def sample_n(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent samples at once (one numpy call per parameter, not per draw)."""
        if self.kind == "fixed":
            return np.full(n, self.params["value"])
        if self.kind == "lognormal":
            p = self.params
            x = np.exp(p["mu"] + p["sigma"] * rng.standard_normal(n))
            if "out_p" in p:
                hit = rng.random(n) < p["out_p"]
                x = np.where(hit, x * rng.uniform(p["out_low"], p["out_high"], n), x)
            return x
        pick = np.minimum(np.searchsorted(self._bounds, rng.random(n), side="right"),
                          len(self.components) - 1)
        return np.choose(pick, [d.sample_n(rng, n) for _, d in self.components])

    @cached_property
    def _bounds(self) -> np.ndarray:
        """A mixture's cumulative weights (where each component's share of [0, 1) ends)."""
        return np.cumsum([w for w, _ in self.components])

    def sample(self, rng: np.random.Generator) -> float:
        if self.kind == "fixed":
            return self.params["value"]
        if self.kind == "lognormal":
            p = self.params
            x = math.exp(p["mu"] + p["sigma"] * rng.standard_normal())
            if "out_p" in p and rng.random() < p["out_p"]:
                x *= rng.uniform(p["out_low"], p["out_high"])
            return x
        u = rng.random()
        for weight, dist in self.components:
            if u < weight:
                return dist.sample(rng)
            u -= weight
        return self.components[-1][1].sample(rng)


@dataclass(frozen=True)
class Profile:
    """A named latency profile: stage name -> :class:`Dist`, plus where the figures came from."""

    name: str
    mode: str = "cascade"          # cascade | s2s
    description: str = ""
    stages: dict[str, Dist] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def sample(self, stage: str, rng: np.random.Generator) -> float:
        try:
            return self.stages[stage].sample(rng)
        except KeyError:
            raise ConfigError(f"profile {self.name!r} has no stage {stage!r}; it has "
                              f"{', '.join(self.stages)}.") from None

    def sampler(self, rng: np.random.Generator, block: int = 32) -> StageSampler:
        """Draws for one call: every stage's next ``block`` delays at once, in two numpy
        calls (scalar numpy draws cost a microsecond each; a simulated call makes
        hundreds, and a call's set-up drew a block per stage)."""
        return StageSampler(self, rng, block)

    @cached_property
    def blocks(self) -> StageBlocks:
        """How to draw a block of every stage at once (built once per profile)."""
        return StageBlocks(self)

    @classmethod
    def fit(cls, source: Any, name: str = "fitted",
            base: str | Profile = "deepgram-gpt4o-cartesia-webrtc", mixtures: bool = True,
            min_values: int = 20) -> Any:
        """Fit each stage from recorded or imported turns (a Recorder or a turns table):
        lognormal, or two lognormals where the data is bimodal; stages the data does not
        measure (or measures fewer than ``min_values`` times) keep ``base``'s. Returns a
        :class:`~agentlab.components.fit.FitResult`: ``.profile``, ``.report``,
        ``.plot()``, ``.save(path)``."""
        from .fit import fit_profile

        return fit_profile(source, name, base, mixtures, min_values)

    @classmethod
    def from_dict(cls, data: dict, where: str = "profile") -> Profile:
        mode = data.get("mode", "cascade")
        needed = S2S_STAGES if mode == "s2s" else STAGES
        stages = data.get("stages", {})
        missing = [s for s in needed if s not in stages]
        if missing:
            raise ConfigError(f"{where}: stages {', '.join(missing)} are missing; a {mode} "
                              f"profile needs {', '.join(needed)}.")
        return cls(name=data.get("name", where), mode=mode,
                   description=data.get("description", ""),
                   stages={k: Dist.parse(v, f"{where}: stages.{k}") for k, v in stages.items()},
                   sources=data.get("sources", {}))


class StageBlocks:
    """Draws ``n`` delays of every stage of a profile at once: one ``standard_normal``
    call for every lognormal part, one ``random`` call for the outliers (whether, how
    far) and the mixtures' picks, and a handful of array operations.

    Part ``i`` is stage ``i``'s own distribution (a fixed stage's part is overwritten
    with its value, so it stays exact); a mixture's components are parts after those.
    """

    def __init__(self, profile: Profile):
        self.stages = tuple(profile.stages)
        dists = list(profile.stages.values())
        parts: list[dict[str, float]] = [
            d.params if d.kind == "lognormal" else {"mu": 0.0, "sigma": 0.0} for d in dists]
        self._fixed_rows = [i for i, d in enumerate(dists) if d.kind == "fixed"]
        self._fixed = np.array([[dists[i].params["value"]] for i in self._fixed_rows])
        # a mixture stage: its parts as (cumulative weight, part index or fixed value)
        self._mixtures: list[tuple[int, list[float], list[Any]]] = []
        for i, d in enumerate(dists):
            if d.kind == "mixture":
                flat = _flatten(d, 1.0)
                refs = []
                for _, leaf in flat:
                    if leaf.kind == "fixed":
                        refs.append(leaf.params["value"])
                    else:
                        parts.append(leaf.params)
                        refs.append(len(parts) - 1)
                self._mixtures.append((i, np.cumsum([w for w, _ in flat]).tolist(), refs))
        self._n_parts = len(parts)
        self._mu = np.array([[p["mu"]] for p in parts])
        self._sigma = np.array([[p["sigma"]] for p in parts])
        self._outliers = any("out_p" in p for p in parts)
        self._out_p = np.array([[p.get("out_p", 0.0)] for p in parts])
        self._out_low = np.array([[p.get("out_low", 1.0)] for p in parts])
        self._out_span = np.array([[p.get("out_high", 1.0) - p.get("out_low", 1.0)]
                                   for p in parts])

    def draw(self, rng: np.random.Generator, n: int) -> dict[str, list[float]]:
        """``n`` delays per stage, each list reversed (the next one is ``pop()``)."""
        k, mixtures = self._n_parts, self._mixtures
        x = rng.standard_normal((k, n))
        x *= self._sigma
        x += self._mu
        np.exp(x, out=x)
        if self._outliers or mixtures:
            u = rng.random((2 * k + len(mixtures), n) if self._outliers else
                           (len(mixtures), n))
            if self._outliers:
                x = np.where(u[:k] < self._out_p,
                             x * (self._out_low + self._out_span * u[k:2 * k]), x)
                u = u[2 * k:]
            for (i, bounds, refs), pick in zip(mixtures, u, strict=True):
                # the first part whose share of [0, 1) ends after the pick
                chosen = x[refs[-1]] if isinstance(refs[-1], int) else refs[-1]
                for bound, ref in zip(bounds[-2::-1], refs[-2::-1], strict=True):
                    chosen = np.where(pick < bound, x[ref] if isinstance(ref, int) else ref,
                                      chosen)
                x[i] = chosen
        if self._fixed_rows:
            x[self._fixed_rows] = self._fixed
        return dict(zip(self.stages, x[:len(self.stages), ::-1].tolist(), strict=True))


def _flatten(dist: Dist, weight: float) -> list[tuple[float, Dist]]:
    """``dist`` as weighted fixed or lognormal parts (a mixture of mixtures is one mixture
    with the weights multiplied)."""
    if dist.kind != "mixture":
        return [(weight, dist)]
    return [leaf for w, d in dist.components for leaf in _flatten(d, weight * w)]


class StageSampler:
    """``draw(stage)`` returns the next delay of ``stage`` for one call; deterministic for a
    given generator and order of draws. The first draw draws a short block of every stage
    (most calls are a few turns); when a stage runs out, every stage gets ``block`` more
    (after what it has left)."""

    __slots__ = ("_block", "_left", "_profile", "_rng")

    FIRST_BLOCK = 8

    def __init__(self, profile: Profile, rng: np.random.Generator, block: int):
        self._profile, self._rng, self._block = profile, rng, block
        self._left: dict[str, list[float]] | None = None

    def draw(self, stage: str) -> float:
        left = self._left
        if left is None:
            left = self._left = self._profile.blocks.draw(self._rng, self.FIRST_BLOCK)
        try:
            values = left[stage]
        except KeyError:
            raise ConfigError(
                f"profile {self._profile.name!r} has no stage {stage!r}; it has "
                f"{', '.join(self._profile.stages)}.") from None
        if not values:
            more = self._profile.blocks.draw(self._rng, self._block)
            for name, fresh in more.items():
                fresh.extend(left[name])  # what a stage had left is drawn first
                left[name] = fresh
            values = left[stage]
        return values.pop()


def available_profiles() -> list[str]:
    """Names of the bundled profiles."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def load_profile(name_or_path: str | Path | Profile | dict) -> Profile:
    """A bundled profile by name, a JSON file, a dict, or a Profile (returned as is)."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    if isinstance(name_or_path, dict):
        return Profile.from_dict(name_or_path)
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.json"
    if not path.exists():
        raise ConfigError(f"no latency profile {str(name_or_path)!r}; bundled profiles: "
                          f"{', '.join(available_profiles())}, or pass a JSON file path.")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err}).") from err
    return Profile.from_dict(data, where=str(path.name))
