import subprocess
import sys

import agentlab as al


def test_all_is_exactly_the_public_names():
    public = {n for n in dir(al) if not n.startswith("_")}
    modules = {"errors", "hooks", "runtime", "testing", "demo", "components", "clock",
               "scenarios", "recorder", "experiment", "cli", "report"}
    assert set(al.__all__) - {"__version__"} == public - modules
    for name in al.__all__:
        assert getattr(al, name) is not None


def test_errors_share_one_base():
    for exc in (al.UnknownHookError, al.HookSignatureError, al.ConfigError, al.HookError):
        assert issubclass(exc, al.AgentlabError)
    assert issubclass(al.HookReplacedWarning, al.AgentlabWarning)


def test_import_has_no_side_effects():
    code = (
        "import logging, asyncio, sys; import matplotlib as m;"
        "before = (logging.getLogger().handlers[:], dict(m.rcParams));"
        "import agentlab;"
        "assert logging.getLogger().handlers == before[0];"
        "assert dict(m.rcParams) == before[1];"
        "assert 'librosa' not in sys.modules and 'pandas' not in sys.modules;"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_hook_table_has_one_row_per_spec():
    rows = al.hook_table()
    assert len(rows) == 29  # the seeds' hooks and agentlab's latency_budget
    assert {"scope": "pipeline", "hook": "llm", "dispatch": "chain"}.items() <= rows[14].items()


def test_every_notebook_has_stored_outputs():
    import json
    from pathlib import Path

    books = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
    assert len(books) >= 7
    for book in books:
        cells = [c for c in json.loads(book.read_text())["cells"] if c["cell_type"] == "code"]
        assert any(c["outputs"] for c in cells), f"{book.name} has no stored outputs"
        checked = [c for c in cells if "".join(c["source"]).startswith("# NBVAL_CHECK_OUTPUT")]
        assert checked and all(c["outputs"] for c in checked), book.name


def test_tables_doc_lists_every_column():
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "tables.md").read_text()
    rec = al.Recorder(config="x")

    async def handle_call(ctx):
        await ctx.session.run()

    al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline()),
                     scenarios="order-status-tools", recorder=rec)
    for name in ("events", "turns", "segments", "tools", "hooks", "errors", "sessions",
                 "usage", "quality"):
        assert f"## {name}" in doc, name
        for col in getattr(rec, name).columns:
            assert f"`{col}`" in doc, (name, col)


def test_import_agentlab_costs_a_few_numpy_imports_and_loads_no_tables_stack():
    """The import-time budget as a ratio to a bare ``import numpy`` timed the same way in
    the same run (machines differ; the ratio holds): at most 6x. Measured here: 2.9x
    (128 ms) now, 4.3x (190 ms) when pyarrow, the recorder and the experiment runner were
    imported eagerly; the issue saw 1.0-1.9 s on a loaded machine."""
    def timed(module):
        code = (f"import time, sys; t = time.perf_counter(); import {module}; "
                f"print(time.perf_counter() - t); "
                f"print(','.join(m for m in ('pyarrow', 'pandas', 'cloudpickle', 'tqdm') "
                f"if m in sys.modules))")
        runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True).stdout.split("\n") for _ in range(5)]
        return sorted(float(r[0]) for r in runs)[2], runs[0][1]

    numpy_s, _ = timed("numpy")
    agentlab_s, loaded = timed("agentlab")
    print(f"\nimport agentlab {agentlab_s * 1000:.0f} ms = {agentlab_s / numpy_s:.1f}x "
          f"import numpy ({numpy_s * 1000:.0f} ms)")
    assert loaded == ""  # the tables stack waits for the first Recorder
    assert agentlab_s / numpy_s <= 6
