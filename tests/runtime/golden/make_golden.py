"""Write golden.json: the recorder-table digests of the golden runs from the code as it is
now. Run it only when a change of the tables is intended (and say so in the commit):
``.venv/bin/python tests/runtime/golden/make_golden.py``."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from runs import digests, runs


def main() -> None:
    out = {name: digests(rec) for name, rec in runs().items()}
    (Path(__file__).parent / "golden.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":  # pytest imports this file (doctest-modules): write nothing then
    main()
