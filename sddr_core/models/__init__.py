"""The SDDR refinement network, compact: one concern a file.

- :mod:`~sddr_core.models.attention`: multi-head attention with spatial reduction.
- :mod:`~sddr_core.models.encoder`: conv stem + MiT-b0-style stages (shared by both inputs).
- :mod:`~sddr_core.models.interaction`: attention across the two branches' deepest features.
- :mod:`~sddr_core.models.decoder`: the mask decoder (soft masks Ω blending the skips).
- :mod:`~sddr_core.models.refiner_net`: :class:`SDDRNet`, :class:`SDDRConfig`, the variants.
- :mod:`~sddr_core.models.normalize`, :mod:`~sddr_core.models.edges`: torch twins of
  ``sddr_core.ops.normalize_robust`` and ``sddr_core.ops.edge_map``.
- :mod:`~sddr_core.models.complexity`: parameter and FLOP counts.

Loading and saving checkpoints lives with the refiner: :mod:`sddr_core.refiners.network`.
"""

from sddr_core.models.complexity import count_flops, count_parameters
from sddr_core.models.edges import bilateral_filter, edge_map, sobel_magnitude
from sddr_core.models.normalize import normalize_robust, robust_stats
from sddr_core.models.refiner_net import CONFIGS, SDDRConfig, SDDRNet, create_model

__all__ = [
    "CONFIGS",
    "SDDRConfig",
    "SDDRNet",
    "bilateral_filter",
    "count_flops",
    "count_parameters",
    "create_model",
    "edge_map",
    "normalize_robust",
    "robust_stats",
    "sobel_magnitude",
]
