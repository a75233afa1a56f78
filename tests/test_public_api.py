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
    assert len(rows) == 28
    assert {"scope": "pipeline", "hook": "llm", "dispatch": "chain"}.items() <= rows[13].items()


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
                 "usage"):
        assert f"## {name}" in doc, name
        for col in getattr(rec, name).columns:
            assert f"`{col}`" in doc, (name, col)
