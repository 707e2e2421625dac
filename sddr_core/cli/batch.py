"""Batches that never lose work, shared by ``sddr refine`` and ``sddr fuse``.

* :func:`output_stems`: a distinct output name for every input, also when two inputs share
  a stem (``a.png``, ``a.jpg``, ``x/a.png``), and each file once when given twice.
* :class:`Batch`: runs one job per item, keeps going past failures, reports every failure at
  the end (exit status 1), and removes the output folder it created if nothing was written.
* :func:`write_outputs`: a depth map and its preview are written together or not at all.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sddr_core.errors import OutputError, SddrError

__all__ = ["Batch", "dedupe", "output_stems", "write_outputs"]


def dedupe(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """``(unique, repeated)``: each file once, in first-seen order; ``repeated`` lists the
    arguments that named a file already in the list (the same file given twice)."""
    seen: set[str] = set()
    unique: list[Path] = []
    repeated: list[Path] = []
    for p in paths:
        key = os.path.normcase(os.path.realpath(p))
        if key in seen:
            repeated.append(p)
            continue
        seen.add(key)
        unique.append(p)
    return unique, repeated


def output_stems(paths: Sequence[Path]) -> list[str]:
    """A distinct output stem per input path.

    An input whose stem no other input shares keeps it (``photo.jpg`` -> ``photo``). Inputs
    sharing a stem get their extension added (``a.png`` -> ``a_png``, ``a.jpg`` -> ``a_jpg``),
    then their parent folder's name (``x/a.png`` -> ``x_a_png``), then a number.
    """
    stems = [p.stem for p in paths]
    counts = Counter(stems)
    names = [
        s if counts[s] == 1 else f"{s}_{p.suffix.lstrip('.').lower() or 'noext'}"
        for s, p in zip(stems, paths, strict=True)
    ]
    counts = Counter(names)
    names = [
        n if counts[n] == 1 else f"{p.absolute().parent.name or 'root'}_{n}"
        for n, p in zip(names, paths, strict=True)
    ]
    taken: set[str] = set()
    out: list[str] = []
    for n in names:
        candidate, i = n, 2
        while candidate.lower() in taken:  # case-insensitive file systems too
            candidate, i = f"{n}-{i}", i + 1
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def write_outputs(
    writes: list[tuple[Path, Callable[[Path], object]]], *, overwrite: bool
) -> list[Path]:
    """Write a job's files (depth map, preview) together: all, or none after an error or an
    interrupt (see :func:`sddr_core.io.files.write_together`)."""
    from sddr_core.io.files import write_together

    return write_together(writes, overwrite=overwrite)


@dataclass
class Batch:
    """Runs jobs over items, collects failures, and cleans up an output folder left empty.

    Use as a context manager around the loop; call :meth:`run` per item and
    :meth:`finish` at the end for the exit status.
    """

    out_dir: Path
    failures: list[tuple[str, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    _created: list[Path] = field(default_factory=list)

    def __enter__(self) -> Batch:
        """Create the output folder (and remember which folders were created: those are
        removed again if the run writes nothing)."""
        p = self.out_dir.expanduser().absolute()
        while not p.exists():
            self._created.append(p)
            p = p.parent
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.__exit__(None, None, None)
            raise OutputError(
                f"Cannot create the output folder {self.out_dir}: {exc.strerror or exc}. "
                "Choose an output folder you can write to."
            ) from exc
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.written:
            for folder in self._created:  # deepest first
                try:
                    folder.rmdir()  # only when empty
                except OSError:
                    break

    def record(self, paths: Iterable[Path]) -> None:
        """Note files written by this run (a file is never written twice in one run)."""
        for p in paths:
            if p in self.written:
                raise SddrError(f"{p} would be written twice by this run; this is a bug in sddr.")
            self.written.append(p)

    def run(self, label: str, job: Callable[[], Any], log: Callable[[str], None]) -> Any:
        """``job()``, or None after logging its failure (SddrError or any other error; an
        interrupt stops the batch)."""
        try:
            return job()
        except SddrError as exc:
            message = str(exc)
        except Exception as exc:  # an unexpected error in one item must not lose the others
            message = f"unexpected {type(exc).__name__}: {exc}"
        self.failures.append((label, message))
        log(f"failed: {label}: {message}")
        return None

    def finish(self, total: int) -> int:
        """Print the failure summary to stderr; 0 if every item succeeded, else 1."""
        if not self.failures:
            return 0
        print(
            f"sddr: error: {len(self.failures)} of {total} input(s) failed "
            f"({total - len(self.failures)} done):",
            file=sys.stderr,
        )
        for label, message in self.failures:
            print(f"  {label}: {message}", file=sys.stderr)
        return 1
