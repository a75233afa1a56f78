"""``Comparator`` (run an experiment with knobs) and ``EventExplorer`` (browse a run)."""

from __future__ import annotations

import io
import threading
from typing import Any

import ipywidgets as W

from ..components import available_profiles, load_profile
from ._html import table_html
from ._throttle import Throttle


def _png(draw: Any, figsize: tuple[float, float] = (8, 3)) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    try:
        draw(ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        return buf.getvalue()
    finally:
        plt.close(fig)


def scaled_profile(name: str, llm_scale: float) -> dict:
    """The profile ``name`` with its LLM time to first token scaled (a what-if knob)."""
    import json

    from ..components.profiles import PROFILE_DIR

    data = json.loads((PROFILE_DIR / f"{name}.json").read_text())
    stage = data["stages"].get("llm_ttft_ms") or data["stages"].get("model_processing_ms")
    if isinstance(stage, dict) and stage.get("dist") == "lognormal":
        stage["p50"] *= llm_scale
        stage["p95"] *= llm_scale
    data["name"] = f"{name} (llm x{llm_scale:g})"
    load_profile(data)  # validate
    return data


class Comparator(W.VBox):
    """Pick configs, repeats and profile knobs, run the experiment, see the summary and
    the segment plot; Stop keeps what finished."""

    def __init__(self, experiment: Any):
        if not hasattr(experiment, "configs") or not hasattr(experiment, "run"):
            from ..errors import ConfigError

            raise ConfigError(f"Comparator runs an experiment: pass an al.Experiment("
                              f"configs=[...], scenarios=...), got "
                              f"{type(experiment).__name__}. To look at a recorder you "
                              f"already have, use al.widgets.EventExplorer(rec) or "
                              f"al.analysis.compare(rec.turns, ...).")
        self.experiment = experiment
        self.result: Any = None
        names = [c.name for c in experiment.configs]
        self.configs = W.SelectMultiple(options=names, value=tuple(names),
                                        description="configs")
        self.repeats = W.IntSlider(value=experiment.repeats, min=1, max=20,
                                   description="repeats")
        self.profile = W.Dropdown(options=available_profiles(),
                                  value=experiment.profile or "deepgram-gpt4o-cartesia-webrtc",
                                  description="profile")
        self.llm_scale = W.FloatSlider(value=1.0, min=0.25, max=3.0, step=0.25,
                                       description="LLM TTFT x")
        self.run_button = W.Button(description="Run", button_style="primary")
        self.stop_button = W.Button(description="Stop", disabled=True)
        self.progress = W.IntProgress(value=0, min=0, max=1, description="calls")
        self.summary = W.HTML()
        self.plot = W.Image(format="png")
        self._thread: threading.Thread | None = None
        self._throttle = Throttle(0.1)
        self.run_button.on_click(lambda _: self.run(wait=False))
        self.stop_button.on_click(lambda _: self.stop())
        super().__init__([W.HBox([self.configs, W.VBox([self.repeats, self.profile,
                                                         self.llm_scale])]),
                          W.HBox([self.run_button, self.stop_button, self.progress]),
                          self.summary, self.plot])

    def _build(self) -> Any:
        from ..experiment import Experiment

        chosen = [c for c in self.experiment.configs if c.name in self.configs.value]
        if not chosen:
            raise ValueError("pick at least one config")
        return Experiment(configs=chosen, scenarios=self.experiment.scenario_list,
                          repeats=self.repeats.value, seed=self.experiment.seed,
                          profile=scaled_profile(self.profile.value, self.llm_scale.value),
                          batch_size=self.experiment.batch_size)

    def run(self, wait: bool = True) -> None:
        """Run with the current settings (in the background unless ``wait``)."""
        exp = self._current = self._build()
        self.progress.max = len(exp.tasks())
        self.progress.value = 0
        self.run_button.disabled, self.stop_button.disabled = True, False

        def on_batch(done: int, total: int) -> None:
            if self._throttle.ready() or done == total:
                self.progress.value = done

        def work() -> None:
            try:
                self.result = exp.run(progress=False, on_batch=on_batch)
                self._show(self.result)
            except Exception as err:  # shown, not lost in a thread
                self.summary.value = f"<b>failed:</b> {type(err).__name__}: {err}"
            finally:
                self.run_button.disabled, self.stop_button.disabled = False, True

        self._thread = threading.Thread(target=work, name="agentlab-comparator", daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()

    def stop(self) -> None:
        exp = getattr(self, "_current", None)
        if exp is not None:
            exp.stop()

    def _show(self, rec: Any) -> None:
        from .. import analysis, plot

        turns = rec.turns
        s = analysis.summary(turns, "total_e2e_ms", by="config")
        note = "" if rec.complete else f" (stopped: {rec.calls_done} of {rec.calls_total})"
        rows = s.round(1).to_dict("records")
        self.summary.value = (f"<b>{len(turns)} turns{note}</b>" + table_html(
            rows, ["config", "n", "mean", "p50", "p90", "p95", "p99"]))
        self.plot.value = _png(lambda ax: plot.segments(turns, by="config", ax=ax))

    def __repr__(self) -> str:
        return f"Comparator({list(self.configs.value)}, repeats={self.repeats.value})"


class EventExplorer(W.VBox):
    """Filter a recorder's events by session, turn and type; the table and the selected
    session's timeline follow."""

    def __init__(self, recorder: Any, limit: int = 200):
        self.recorder, self.limit = recorder, limit
        self.events = recorder.events
        sessions = [str(s) for s in self.events["session_id"].astype(str).unique()]
        self.session = W.Dropdown(options=sessions, description="session")
        self.turn = W.Dropdown(description="turn")
        kinds = sorted(self.events["event"].astype(str).unique())
        self.kinds = W.SelectMultiple(options=kinds, value=tuple(kinds), rows=8,
                                      description="events")
        self.table = W.HTML()
        self.timeline = W.Image(format="png")
        for w in (self.session, self.turn, self.kinds):
            w.observe(lambda _: self.refresh(), names="value")
        self.session.observe(lambda _: self._turns(), names="value")
        super().__init__([W.HBox([W.VBox([self.session, self.turn]), self.kinds]),
                          self.table, self.timeline])
        self._turns()
        self.refresh(timeline=True)

    def _turns(self) -> None:
        df = self.events[self.events["session_id"].astype(str) == self.session.value]
        self.turn.options = ["all", *[int(t) for t in sorted(df["turn_id"].unique())]]
        self.turn.value = "all"
        self.refresh(timeline=True)

    def reload(self) -> None:
        """Read the recorder's events again: a running call's (the recorder streams; a
        live console's ``console.recorder``) so far. The selection is kept where it
        still exists; new sessions, turns and event types are added to the choices."""
        session, turn, kinds = self.session.value, self.turn.value, set(self.kinds.value)
        known = set(self.kinds.options)
        self.events = self.recorder.events
        self.session.options = [str(s) for s in
                                self.events["session_id"].astype(str).unique()]
        if session in self.session.options:
            self.session.value = session
        options = sorted(self.events["event"].astype(str).unique())
        self.kinds.options = options
        # what was shown stays shown; types that appeared since are shown too
        self.kinds.value = tuple(k for k in options if k in kinds or k not in known)
        self._turns()
        if turn in self.turn.options:
            self.turn.value = turn

    def selection(self):
        """The filtered events (a DataFrame)."""
        df = self.events[self.events["session_id"].astype(str) == self.session.value]
        if self.turn.value not in (None, "all"):
            df = df[df["turn_id"] == self.turn.value]
        return df[df["event"].astype(str).isin(self.kinds.value)]

    def refresh(self, timeline: bool = False) -> None:
        sel = self.selection()
        cols = ["turn_id", "seq", "t_ms", "event", "text", "name", "value_ms"]
        rows = sel[cols].astype(object).where(sel[cols].notna(), None).to_dict("records")
        self.table.value = (f"<b>{len(sel)} events</b>" +
                            table_html(rows[: self.limit], cols, limit=self.limit))
        if timeline:
            from .. import plot

            self.timeline.value = _png(lambda ax: plot.timeline(
                self.events, self.session.value, ax=ax), (9, 2.6))

    def __repr__(self) -> str:
        return f"EventExplorer(sessions={len(self.session.options)})"
