"""Every Python block of README.md and docs/*.md runs as written: a file's blocks run in
order in one namespace (a later block may use what an earlier one made), top-level
``await`` allowed (the docs are written for notebook cells)."""

import ast
import asyncio
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
WITH_BLOCKS = [d for d in DOCS if BLOCK.search(d.read_text())]


def test_the_docs_have_blocks_to_check():
    assert {d.name for d in WITH_BLOCKS} >= {"README.md", "quickstart.md", "live.md",
                                             "programs.md", "scenarios.md"}


@pytest.mark.parametrize("doc", WITH_BLOCKS, ids=lambda d: d.name)
def test_every_block_runs_as_written(doc, tmp_path, monkeypatch):
    text = doc.read_text()
    if "from agentlab import live" in text:
        pytest.importorskip("faster_whisper", reason="needs the live extra")
    monkeypatch.chdir(tmp_path)  # whatever a block writes (out/, runs/) stays here
    namespace = {"__name__": "__docs__"}
    blocks = BLOCK.findall(text)
    ran = []
    for i, block in enumerate(blocks):
        code = compile(block, f"{doc.name} block {i + 1}", "exec",
                       flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)  # the repo's own docs
        if asyncio.iscoroutine(result):
            asyncio.run(result)
        ran.append(i)
    assert ran == list(range(len(blocks))) and blocks  # every block, to the end
    assert len(namespace) > 1  # and they defined what they show


def test_no_shipped_text_names_nbvals_deprecated_option():
    texts = [*DOCS, *(ROOT / "agentlab").rglob("*.py"), *(ROOT / "agentlab").rglob("*.cfg")]
    stale = [p.name for p in texts if re.search(r"(?<!nbval-)--sanitize-with", p.read_text())]
    assert stale == []
