"""What an evaluation dataset is to sddr: a :class:`Sample`, the :class:`Dataset` protocol,
and :func:`load_dataset`, which turns a ``--dataset SPEC`` string into a dataset.

Specs (``sddr eval --dataset SPEC``):

============================  ==========================================================
``motorcycle``                Middlebury 2014 Motorcycle bundled with scikit-image
                              (:mod:`sddr_core.datasets.motorcycle`, evaluation only)
``middlebury:PATH``           one Middlebury scene folder or a root of many
                              (:mod:`sddr_core.datasets.middlebury`)
``middlebury2006:PATH[@S]``   Middlebury 2006 scenes (view1/view5.png, disp1/disp5.png),
                              all of them or the ``@train`` / ``@val`` side of
                              :data:`~sddr_core.datasets.middlebury2006.MIDDLEBURY2006_SPLIT`
                              (:mod:`sddr_core.datasets.middlebury2006`)
``folder:PATH``               the generic ``rgb/`` + ``depth/`` or ``disparity/`` layout
                              (:mod:`sddr_core.datasets.folder`)
``procedural:N``              ``N`` held-out procedural scenes
                              (:mod:`sddr_core.datasets.procedural`, when installed)
``PATH``                      a folder, its layout detected: a ``calib.txt`` in it or its
                              sub-folders means Middlebury, ``view1.png`` + ``disp1.png``
                              Middlebury 2006, an ``rgb/`` sub-folder the generic layout
============================  ==========================================================
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from sddr_core.errors import InputError, ShapeError

__all__ = [
    "DATASET_SPECS",
    "Dataset",
    "ProceduralDataset",
    "Sample",
    "SampleList",
    "load_dataset",
]

GtKind = Literal["depth", "disparity"]

#: The spec forms :func:`load_dataset` accepts, with a one-line description each.
DATASET_SPECS: dict[str, str] = {
    "motorcycle": "Middlebury 2014 Motorcycle from scikit-image (evaluation only)",
    "middlebury:PATH": "a Middlebury scene (im0.png, disp0.pfm, calib.txt) or a root of scenes",
    "middlebury2006:PATH[@train|@val]": "Middlebury 2006 scenes (view1.png, view5.png, "
    "disp1.png, disp5.png), all or one side of the documented split",
    "folder:PATH": "rgb/NAME.png + depth/NAME.* or disparity/NAME.*, optional mask/NAME.png",
    "procedural:N": "N held-out procedural scenes (needs sddr_core.datasets.procedural)",
    "scaled:FACTOR:SPEC": "dataset SPEC with every image and ground truth resized by FACTOR",
    "PATH": "a folder; Middlebury or the generic layout, detected",
}


@dataclass
class Sample:
    """One evaluation sample: an image and its ground truth.

    On construction ``gt`` becomes float32 with NaN at unknown pixels (non-finite or
    ``<= 0``), and ``valid`` is narrowed to the known pixels.

    Attributes:
        rgb: the image, uint8 ``(H, W, 3)`` or float ``(H, W, 3)`` in ``[0, 1]``.
        gt: ground truth, float32 ``(H, W)``: depth (larger = farther) or disparity (larger =
            nearer) as ``gt_kind`` says; NaN where unknown.
        gt_kind: ``"depth"`` or ``"disparity"``.
        valid: bool ``(H, W)``, True where ``gt`` is known and may be evaluated.
        meta: at least ``"name"`` (unique within its dataset, used for file names); loaders
            add where the sample came from, units and calibration.
    """

    rgb: np.ndarray
    gt: np.ndarray
    gt_kind: GtKind
    valid: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rgb = np.asarray(self.rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ShapeError(f"Sample rgb must be (H, W, 3), got shape {rgb.shape}.")
        if not (rgb.dtype == np.uint8 or np.issubdtype(rgb.dtype, np.floating)):
            raise InputError(f"Sample rgb must be uint8 or float in [0, 1], got {rgb.dtype}.")
        gt = np.array(self.gt, dtype=np.float32)  # a copy: unknown pixels are set to NaN
        if gt.ndim != 2:
            raise ShapeError(f"Sample gt must be a (H, W) map, got shape {gt.shape}.")
        if gt.shape != rgb.shape[:2]:
            raise ShapeError(
                f"Sample gt is {gt.shape[1]}x{gt.shape[0]} but its image is "
                f"{rgb.shape[1]}x{rgb.shape[0]}; ground truth and image must have one size."
            )
        if self.gt_kind not in ("depth", "disparity"):
            raise InputError(f"gt_kind must be 'depth' or 'disparity', got {self.gt_kind!r}.")
        valid = np.asarray(self.valid).astype(bool)
        if valid.shape != gt.shape:
            raise ShapeError(f"Sample valid mask is {valid.shape}, its gt {gt.shape}.")
        with np.errstate(invalid="ignore"):
            known = np.isfinite(gt) & (gt > 0)
        gt[~known] = np.nan
        self.rgb = rgb
        self.gt = gt
        self.valid = valid & known
        self.meta = dict(self.meta)
        self.meta.setdefault("name", "sample")

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.gt.shape[0]), int(self.gt.shape[1]))

    def gt_as(self, kind: GtKind) -> np.ndarray:
        """The ground truth in ``kind`` (the reciprocal when it differs), float32, NaN where
        unknown."""
        if kind == self.gt_kind:
            return self.gt.copy()
        if kind not in ("depth", "disparity"):
            raise InputError(f"kind must be 'depth' or 'disparity', got {kind!r}.")
        out = np.full_like(self.gt, np.nan)
        known = np.isfinite(self.gt)
        out[known] = 1.0 / self.gt[known]
        return out

    def __repr__(self) -> str:
        h, w = self.shape
        return (
            f"Sample({self.name!r}, {w}x{h}, gt_kind={self.gt_kind!r}, "
            f"valid={self.valid.mean():.1%})"
        )


@runtime_checkable
class Dataset(Protocol):
    """An evaluation dataset: a name, a length and iteration over :class:`Sample` objects.

    Loaders read files lazily, one sample per step of the iteration. The loaders in
    :mod:`sddr_core.datasets` also expose ``names`` (the sample names, in order, without
    loading anything) and ``sample(i)``.
    """

    name: str

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Sample]: ...


class SampleList:
    """A :class:`Dataset` over samples already in memory.

    Args:
        samples: the samples; their ``meta["name"]`` values must be unique.
        name: the dataset's name.
    """

    def __init__(self, samples: list[Sample], name: str = "samples") -> None:
        self._samples = list(samples)
        self.name = name
        names = self.names
        if len(set(names)) != len(names):
            raise InputError(f"sample names must be unique within a dataset, got {names}.")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self._samples]

    def sample(self, index: int) -> Sample:
        return self._samples[index]

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._samples)

    def __repr__(self) -> str:
        return f"SampleList({self.name!r}, {len(self)} samples)"


_SCHEMES = ("motorcycle", "middlebury", "middlebury2006", "folder", "procedural", "scaled")


def load_dataset(spec: str | Path | Dataset) -> Dataset:
    """The dataset a ``--dataset SPEC`` string names (see the module docstring).

    Args:
        spec: ``"motorcycle"``, ``"middlebury:PATH"``, ``"middlebury2006:PATH[@train|@val]"``,
            ``"folder:PATH"``, ``"procedural:N"``, ``"scaled:FACTOR:SPEC"`` (any of these
            resized, :mod:`sddr_core.datasets.scaled`), a folder path, or a dataset object
            (returned as is).

    Returns:
        A :class:`Dataset`.

    Raises:
        InputError: unknown spec, missing or empty folder, a layout that cannot be detected,
            or ``procedural`` without its module.
    """
    if not isinstance(spec, (str, Path)):
        if isinstance(spec, Dataset):
            return spec
        raise InputError(f"dataset must be a spec string or a Dataset, got {type(spec).__name__}.")
    text = str(spec).strip()
    if not text:
        raise InputError(_spec_help("an empty dataset spec"))
    scheme, sep, rest = text.partition(":")
    if sep and scheme.lower() in _SCHEMES:
        scheme = scheme.lower()
        if scheme == "motorcycle":
            raise InputError("'motorcycle' takes no argument: use --dataset motorcycle.")
        if not rest:
            raise InputError(_spec_help(f"{text!r} lacks its argument"))
        if scheme == "middlebury":
            from sddr_core.datasets.middlebury import MiddleburyDataset

            return MiddleburyDataset(rest)
        if scheme == "middlebury2006":
            return _middlebury2006(rest)
        if scheme == "folder":
            from sddr_core.datasets.folder import FolderDataset

            return FolderDataset(rest)
        if scheme == "scaled":
            return _scaled(rest)
        return _procedural(rest)
    if text.lower() == "motorcycle":
        from sddr_core.datasets.motorcycle import MotorcycleDataset

        return MotorcycleDataset()
    path = Path(text).expanduser()
    if not path.exists():
        raise InputError(_spec_help(f"{text!r} is neither a known dataset nor an existing path"))
    return _detect(path)


def _detect(path: Path) -> Dataset:
    if not path.is_dir():
        raise InputError(_spec_help(f"{path} is a file; a dataset is a folder"))
    if (path / "rgb").is_dir():
        from sddr_core.datasets.folder import FolderDataset

        return FolderDataset(path)
    from sddr_core.datasets.middlebury import MiddleburyDataset, find_scenes

    if find_scenes(path):
        return MiddleburyDataset(path)
    from sddr_core.datasets.middlebury2006 import find_scenes_2006, load_middlebury2006

    if find_scenes_2006(path):
        return load_middlebury2006(path)
    raise InputError(
        f"cannot tell the layout of {path}: it has neither an rgb/ sub-folder (the generic "
        "layout, see sddr_core.datasets.folder) nor Middlebury scene folders (im0.png, "
        "disp0.pfm or disp0GT.pfm, calib.txt) nor Middlebury 2006 ones (view1.png, view5.png, "
        "disp1.png, disp5.png). Use folder:PATH, middlebury:PATH or middlebury2006:PATH to "
        "say which."
    )


def _middlebury2006(arg: str) -> Dataset:
    """``PATH``, ``PATH@train`` or ``PATH@val`` (``@all`` = no split)."""
    from sddr_core.datasets.middlebury2006 import MIDDLEBURY2006_SPLIT, load_middlebury2006

    path, at, split = arg.rpartition("@")
    if not at:
        return load_middlebury2006(arg)
    if split not in (*MIDDLEBURY2006_SPLIT, "all"):
        if Path(arg).expanduser().exists():  # an "@" that belongs to the path
            return load_middlebury2006(arg)
        raise InputError(
            f"middlebury2006:{arg}: unknown split {split!r}; use middlebury2006:PATH, "
            + ", ".join(f"PATH@{s}" for s in MIDDLEBURY2006_SPLIT)
            + " or PATH@all."
        )
    if not path:
        raise InputError(f"middlebury2006:{arg} lacks the folder before '@{split}'.")
    return load_middlebury2006(path, scenes=None if split == "all" else split)


def _scaled(arg: str) -> Dataset:
    """``FACTOR:SPEC``: the dataset ``SPEC`` resized by ``FACTOR``."""
    from sddr_core.datasets.scaled import ScaledDataset

    factor_text, sep, inner = arg.partition(":")
    try:
        factor = float(factor_text)
    except ValueError:
        factor = float("nan")
    if not sep or not inner or not np.isfinite(factor):
        raise InputError(
            f"scaled:{arg}: write scaled:FACTOR:SPEC, e.g. "
            "scaled:1.75:middlebury2006:PATH@val (FACTOR a number, SPEC any dataset spec)."
        )
    return ScaledDataset(load_dataset(inner), factor)


def _procedural(arg: str) -> Dataset:
    try:
        n = int(arg)
    except ValueError:
        raise InputError(f"procedural:N needs a number of scenes, got {arg!r}.") from None
    if n < 1:
        raise InputError(f"procedural:N needs at least one scene, got {n}.")
    try:
        mod = importlib.import_module("sddr_core.datasets.procedural")
    except ModuleNotFoundError as exc:
        if exc.name != "sddr_core.datasets.procedural":
            raise
        raise InputError(
            "procedural scenes need sddr_core.datasets.procedural (the training module), "
            "which this build does not have; use motorcycle, middlebury:PATH or folder:PATH."
        ) from None
    factory = getattr(mod, "heldout_scenes", None)
    if not callable(factory):
        raise InputError(
            "sddr_core.datasets.procedural has no heldout_scenes(n); it must offer one "
            "yielding N held-out scenes."
        )
    return ProceduralDataset(factory, n)


class ProceduralDataset:
    """``n`` held-out procedural scenes (``procedural:N``), generated one at a time.

    Args:
        factory: ``factory(n)`` yielding :class:`Sample` objects or scenes with ``name``,
            ``image``, ``gt``, ``kind`` and ``mask`` (as
            :func:`sddr_core.datasets.procedural.heldout_scenes` does).
        n: the number of scenes.
    """

    def __init__(self, factory: Any, n: int) -> None:
        self.factory = factory
        self.n = int(n)
        self.name = f"procedural-{self.n}"

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[Sample]:
        for scene in self.factory(self.n):
            yield _scene_sample(scene)

    def __repr__(self) -> str:
        return f"ProceduralDataset({self.n} held-out scenes)"


def _scene_sample(scene: Any) -> Sample:
    """A :class:`Sample` from a Sample or a procedural scene object."""
    if isinstance(scene, Sample):
        return scene
    try:
        info = getattr(scene, "info", {}) or {}
        meta = {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool))}
        meta.update(name=str(scene.name), dataset="procedural")
        return Sample(rgb=scene.image, gt=scene.gt, gt_kind=scene.kind, valid=scene.mask, meta=meta)
    except AttributeError as exc:
        raise InputError(
            f"a procedural scene lacks {exc.name or 'a field'}: scenes need name, image, gt, "
            "kind and mask."
        ) from exc


def _spec_help(problem: str) -> str:
    forms = "; ".join(f"{k} ({v})" for k, v in DATASET_SPECS.items())
    return f"{problem}. A dataset spec is one of: {forms}."
