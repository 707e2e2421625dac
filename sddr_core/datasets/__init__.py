"""Datasets with ground truth: (RGB, depth or disparity, valid mask, metadata) samples.

- :mod:`.base`: :class:`Sample`, the :class:`Dataset` protocol and :func:`load_dataset`, which
  parses the ``--dataset`` specs ``motorcycle``, ``middlebury:PATH``, ``folder:PATH``,
  ``procedural:N`` and ``scaled:FACTOR:SPEC``;
- :mod:`.middlebury`: the Middlebury 2014 / 2021 stereo layout;
- :mod:`.middlebury2006`: Middlebury 2006 stereo pairs with both disparity maps, and the
  documented train / validation split :data:`MIDDLEBURY2006_SPLIT`;
- :mod:`.folder`: a generic ``rgb/`` + ``depth/`` or ``disparity/`` (+ ``mask/``) folder;
- :mod:`.motorcycle`: scikit-image's Middlebury Motorcycle scene (evaluation only);
- :mod:`.procedural`: unlimited seeded synthetic scenes for training and held-out validation;
- :mod:`.scaled`: any of these resized (``scaled:FACTOR:SPEC``), to test other image sizes.
"""

from sddr_core.datasets.base import (
    DATASET_SPECS,
    Dataset,
    ProceduralDataset,
    Sample,
    SampleList,
    load_dataset,
)
from sddr_core.datasets.folder import FolderDataset
from sddr_core.datasets.middlebury import MiddleburyDataset
from sddr_core.datasets.middlebury2006 import MIDDLEBURY2006_SPLIT, load_middlebury2006
from sddr_core.datasets.motorcycle import MotorcycleDataset, load_motorcycle
from sddr_core.datasets.scaled import ScaledDataset, scale_sample

__all__ = [
    "DATASET_SPECS",
    "MIDDLEBURY2006_SPLIT",
    "Dataset",
    "FolderDataset",
    "MiddleburyDataset",
    "MotorcycleDataset",
    "ProceduralDataset",
    "Sample",
    "SampleList",
    "ScaledDataset",
    "load_dataset",
    "load_middlebury2006",
    "load_motorcycle",
    "scale_sample",
]
