"""al.plot.timeline: what it draws is what happened."""

import matplotlib.colors as mcolors
import pytest

import agentlab as al


async def handle_call(ctx):
    await ctx.session.run()


def _tool_bars(ax):
    """The tool lane's bars (y 1.6-2.4), as (start_s, colour name)."""
    out = []
    for coll in ax.collections:
        paths = coll.get_paths()
        if not paths:
            continue
        y0 = paths[0].vertices[:, 1].min()
        if abs(y0 - 1.6) < 1e-9:
            out.append((paths[0].vertices[:, 0].min(), mcolors.to_hex(coll.get_facecolor()[0])))
    return out


def test_a_failed_tool_is_red_an_ok_tool_green_and_the_legend_says_so():
    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline()),
                     scenarios=["failing-tool", "order-status-tools"], recorder=rec)
    failing, ok = rec.sessions.session_id.astype(str)
    red, green = mcolors.to_hex("tab:red"), mcolors.to_hex("tab:green")
    ax = al.plot.timeline(rec, failing)  # the Recorder itself is accepted
    assert [c for _, c in _tool_bars(ax)] == [red]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"user speech", "agent speech", "tool failed"} <= set(labels)
    assert "tool ok" not in labels
    ax = al.plot.timeline(rec.events, ok)
    bars = _tool_bars(ax)
    assert len(bars) == len(rec.tools[rec.tools.session_id == ok]) and \
        {c for _, c in bars} == {green}
    assert "tool ok" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_timeline_refuses_what_is_not_events():
    with pytest.raises(al.ConfigError, match="rec.events or a Recorder"):
        al.plot.timeline([1, 2, 3])
