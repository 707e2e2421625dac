"""Depth-kind predictors: measure one-stage fusion in depth space against disparity space.

python benchmarks/depth_space.py REFINER_CHECKPOINT family-sddr,family-texture
"""

import sys

import sddr_core.inference.one_stage as os_
from sddr_core.evaluation import evaluate

ds = "middlebury2006:../shared/data/middlebury2006@val"
for fam in sys.argv[2].split(","):
    for space in ("depth", "disparity"):
        os_.DEPTH_FUSION_SPACE = space
        for ref in ("poisson", "split", sys.argv[1]):
            rep = evaluate(
                ds,
                fam,
                ["one-stage"],
                refiner=ref,
                progress=False,
                figures=False,
                predictor_options={"kind": "depth"},
            )
            m = rep.mean["one-stage"]
            print(
                fam,
                space,
                ref[-12:],
                " ".join(f"{k}={m[k]:.3f}" for k in ("delta1", "abs_rel", "d3r", "boundary_f1")),
                flush=True,
            )
