"""Self-distillation training of the SDDR refiner (METHOD.md sections 1, 4, 5 and 8).

- :mod:`~sddr_core.train.losses`: L_gt, L_grad, L_fusion (pure torch functions).
- :mod:`~sddr_core.train.data`: training pairs from procedural (or real) ground truth and
  the simulated predictor; self-distilled pseudo-labels G_S via the two-stage code.
- :mod:`~sddr_core.train.config`: the TOML/YAML run configuration (the built-in ones in
  ``sddr_core/configs/``, passed by name).
- :mod:`~sddr_core.train.trainer`: the loop behind ``sddr train --config FILE|NAME``.
"""

from sddr_core.train.config import TrainConfig, load_config
from sddr_core.train.trainer import Trainer, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "Trainer", "load_config", "train"]
