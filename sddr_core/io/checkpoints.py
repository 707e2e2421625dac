"""Checking a refiner checkpoint path before loading it: say what a wrong file *is*.

sddr loads refiner weights only from ``.safetensors`` files (no code runs when they load).
A PyTorch pickle (``.pt``, ``.pth``, ``.ckpt``, ``.bin``) or a folder passed instead gets a
message naming it and saying how to convert it, rather than "not found" or "corrupt".
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from sddr_core.errors import InputError, WeightsError, option

__all__ = ["PICKLE_SUFFIXES", "check_refiner_path", "is_pickle_file"]

#: Extensions of PyTorch pickle checkpoints.
PICKLE_SUFFIXES: tuple[str, ...] = (".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle")


def is_pickle_file(path: Path) -> bool:
    """True for a PyTorch checkpoint saved with ``torch.save`` (a zip archive holding a
    ``data.pkl``, or a legacy raw pickle)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(9)
        size = path.stat().st_size
    except OSError:
        return False
    # A safetensors file starts with its JSON header's length (8 bytes, little-endian), whose
    # first byte can be anything, 0x80 included; the header itself starts with "{".
    if len(head) == 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return False
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return True  # PROTO opcode of pickle protocols 2-5
    if head[:2] == b"PK" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("data.pkl") for n in zf.namelist())
    return False


def check_refiner_path(path: str | os.PathLike[str]) -> Path:
    """Refuse early a refiner path that is not a safetensors checkpoint; return it.

    Raises:
        InputError: ``path`` is a folder, or does not exist.
        WeightsError: ``path`` is a pickle checkpoint (never unpickled: that can run code).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        found = sorted(q.name for q in p.glob("*.safetensors"))[:5]
        hint = (
            f" It holds {', '.join(found)}: pass one of those files."
            if found
            else " Pass the .safetensors checkpoint file itself."
        )
        raise InputError(f"refiner {str(p)!r} is a folder, not a checkpoint file.{hint}")
    if not p.exists():
        raise InputError(
            f"refiner checkpoint {str(p)!r} not found. Check the path, or use "
            f"{option('refiner', 'poisson')} (no weights needed); `sddr refiners` lists the "
            "registered ones."
        )
    if p.suffix.lower() in PICKLE_SUFFIXES or is_pickle_file(p):
        raise WeightsError(
            f"{str(p)!r} is a PyTorch pickle checkpoint; sddr does not unpickle files (loading "
            "a pickle can run arbitrary code). Convert it once, in Python, if you trust its "
            "source: `state = torch.load(path, weights_only=True)`; "
            "`net = sddr_core.models.refiner_net.create_model(CONFIG)`; "
            "`net.load_state_dict(state)`; "
            "`sddr_core.refiners.network.save_refiner(net, 'refiner.safetensors')`, then pass "
            "the .safetensors file."
        )
    return p
