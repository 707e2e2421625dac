"""Refinement time as a fraction of the predictor's own high-resolution pass, from a checkout.

Same as ``sddr bench fraction`` (see :func:`sddr_core.cli.bench.run_fraction` and
docs/BENCHMARKS.md): Depth Anything V2 Small architecture (random weights from its config),
1024x768, Poisson and the default refiner::

    python benchmarks/fraction.py --threads 1 --markdown
    python benchmarks/fraction.py --refiners poisson network poisson-jacobi-cg --repeats 7
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sddr_core.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "fraction", *sys.argv[1:]]))
