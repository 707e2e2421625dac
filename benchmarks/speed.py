"""Speed and memory benchmark of sddr, runnable from a checkout without installing.

Same as ``sddr bench speed`` (see :mod:`sddr_core.cli.bench` for what is measured and how)::

    python benchmarks/speed.py                       # quick: 512, 1024; under a minute
    python benchmarks/speed.py --full                # 512, 1024, 2048; ~6-10 min on CPU
    python benchmarks/speed.py --sizes 512 1024 --repeats 5 --markdown
    python benchmarks/speed.py --device cuda --json gpu.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sddr_core.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "speed", *sys.argv[1:]]))
