"""Fitting a latency profile from recorded turns (issue 20, part 2)."""

import numpy as np
import pytest

import agentlab as al
from agentlab.components.fit import fit_dist, stage_values

SCRIPT = [f"Caller turn {i} asking about my order status." for i in range(10)]


def _recorded(calls, seed, profile=None):
    async def entry(ctx):
        await ctx.session.run()

    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=entry), SCRIPT, calls=calls, seed=seed,
                     recorder=rec, profile=profile)
    return rec


@pytest.fixture(scope="module")
def rec():
    return _recorded(120, seed=5)


def _bootstrap(x, q, rng, n=2000, level=0.99):
    idx = rng.integers(0, len(x), size=(n, len(x)))
    stats = np.quantile(x[idx], q, axis=1)
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return lo, hi


@pytest.mark.parametrize("profile", ["slow-tail-heavy", "fast-tuned-cascade"])
def test_a_fit_on_half_the_calls_predicts_the_other_half(profile):
    # simulated on another profile than the fit's base: a fit that kept the base's
    # stages would miss the held-out half
    turns = _recorded(120, seed=5, profile=profile).turns
    calls = sorted(turns.session_id.astype(str).unique())
    half = set(calls[::2])
    train = turns[turns.session_id.astype(str).isin(half)]
    held_out = stage_values(turns[~turns.session_id.astype(str).isin(half)])
    fit = al.Profile.fit(train)
    assert set(fit.fitted_from) == set(held_out)
    rng = np.random.default_rng(0)
    for stage, x in held_out.items():
        sample = fit.profile.stages[stage].sample_n(rng, 40_000)
        for q in (0.5, 0.95):
            lo, hi = _bootstrap(x, q, rng)
            predicted = np.quantile(sample, q)
            if lo == hi:  # a fixed stage
                assert predicted == pytest.approx(lo)
            else:
                assert lo <= predicted <= hi, (stage, q, lo, predicted, hi)


def test_endpointings_two_modes_are_found(rec):
    fit = al.Profile.fit(rec)
    dist = fit.profile.stages["endpointing_ms"]
    assert dist.kind == "mixture" and len(dist.components) == 2
    modes = sorted(np.exp(d.params["mu"]) for _, d in dist.components)
    assert modes[1] > 3 * modes[0]  # a short pause and a long one
    assert fit.profile.stages["vad_silence_ms"].kind == "fixed"
    report = fit.report.set_index("stage")
    assert report.loc["llm_tokens_per_s", "from"] == "base"  # not measured by the turns
    assert np.isnan(report.loc["llm_tokens_per_s", "p50_data"])
    assert (report.dropna(subset=["ks"]).ks < 0.1).all()


def test_a_unimodal_stage_stays_one_lognormal():
    x = np.random.default_rng(1).lognormal(np.log(300), 0.4, 3000)
    dist = fit_dist(x)
    assert dist.kind == "lognormal"
    assert np.exp(dist.params["mu"]) == pytest.approx(300, rel=0.03)
    assert dist.params["sigma"] == pytest.approx(0.4, rel=0.05)


def test_a_saved_fit_is_a_profile_the_simulator_runs(rec, tmp_path):
    fit = al.Profile.fit(rec, name="my-calls")
    path = fit.save(tmp_path / "my-calls.json")
    loaded = al.load_profile(path)
    assert loaded.name == "my-calls" and set(loaded.stages) == set(fit.profile.stages)
    again = al.Profile.fit(_recorded(60, seed=9, profile=path))
    for stage in ("stt_ms", "tts_ttfb_ms", "transport_out_ms"):
        a = np.exp(fit.profile.stages[stage].params["mu"])
        b = np.exp(again.profile.stages[stage].params["mu"])
        assert b == pytest.approx(a, rel=0.05), stage
    fig = fit.plot()
    assert len([ax for ax in fig.axes if ax.get_visible()]) == len(fit.fitted_from)


def test_bad_input_says_what_fit_takes():
    with pytest.raises(al.ConfigError, match="Recorder or a turns DataFrame"):
        al.Profile.fit([1, 2, 3])
    with pytest.raises(al.ConfigError, match="no stage has 20 measured turns"):
        al.Profile.fit(_recorded(1, seed=1))
