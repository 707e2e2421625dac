"""Safe output files: refuse to overwrite unless asked, and never leave a half-written file;
and one check of input files before a reader opens them (:func:`check_input_file`).

Every writer in :mod:`sddr_core.io` goes through :func:`atomic_write`: the bytes go to a
temporary file in the destination folder, which then replaces the destination in one step
(:func:`os.replace`, atomic on POSIX and Windows). A crash or an error mid-write leaves the
old file (or nothing) in place, never a truncated one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sddr_core.errors import InputError, OutputError, OutputExistsError, SddrError

__all__ = [
    "atomic_write",
    "check_input_file",
    "check_output_folder",
    "check_writable",
    "write_together",
]


def check_output_folder(path: str | os.PathLike[str]) -> Path:
    """Refuse early an output folder that cannot hold files; return it as an absolute path.

    The folder itself need not exist yet (writers create it), but it must not be a file,
    must not lie under a file, and its nearest existing ancestor must be writable.

    Raises:
        OutputError: with what is wrong and what to do.
    """
    out = Path(path).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise OutputError(
            f"The output folder {out} is an existing file. Give a folder with -o/--out "
            "(it is created if missing), e.g. the file's name without its extension."
        )
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(
            f"Cannot create the output folder {out}: {probe} is a file, not a folder. Choose "
            "an output folder elsewhere."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(
            f"Cannot write into {probe}: permission denied. Choose an output folder you can "
            "write to (e.g. under your home folder), or fix its permissions."
        )
    return out


def write_together(
    writes: list[tuple[str | os.PathLike[str], Callable[[Path], object]]],
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write several files as one unit: all of them, or none.

    Each ``writer(tmp)`` writes a temporary file ``tmp`` beside its destination (with the
    same extension, so writers that pick the format by extension work). Only when every
    writer has succeeded are the files moved into place; an error or an interrupt before
    that leaves no new file behind, and one during the moves removes the new files already
    moved (files replaced with ``overwrite=True`` cannot be brought back).

    Args:
        writes: ``(destination, writer)`` pairs.
        overwrite: replace existing destinations instead of refusing.

    Returns:
        The absolute destination paths, in order.

    Raises:
        OutputExistsError: a destination exists and ``overwrite`` is False (nothing written).
        SddrError: a file cannot be written (nothing left behind).
    """
    dests = [check_writable(dest, overwrite=overwrite) for dest, _ in writes]
    temps: list[Path] = []
    done: list[Path] = []
    try:
        for dest, (_, writer) in zip(dests, writes, strict=True):
            tmp = dest.with_name(f".{dest.stem}.{secrets.token_hex(6)}.tmp{dest.suffix}")
            temps.append(tmp)
            writer(tmp)
        for tmp, dest in zip(temps, dests, strict=True):
            existed = dest.exists()
            try:
                _commit(tmp, dest, overwrite=overwrite)
            except OSError as exc:
                if isinstance(exc, OutputExistsError):
                    raise
                raise SddrError(
                    f"Cannot write {dest}: {exc.strerror or exc}. Check that the folder is "
                    "writable and the disk has space, or write somewhere else."
                ) from exc
            if not existed:
                done.append(dest)
    except BaseException:
        for dest in done:
            dest.unlink(missing_ok=True)
        raise
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return dests


def check_input_file(path: Path, what: str, *, folder_hint: str = "") -> None:
    """Refuse ``path`` as input unless it is a non-empty file, with a message naming ``what``.

    Args:
        path: the file a reader is about to open.
        what: what the file should be, with its article (``"an image file"``).
        folder_hint: a sentence added when ``path`` is a folder (e.g. how to pass its files).

    Raises:
        InputError: ``path`` does not exist, is a folder, or is empty (0 bytes).
    """
    name = what.split(" ", 1)[1] if what.startswith(("a ", "an ")) else what
    name = name[:1].upper() + name[1:]
    if not path.exists():
        raise InputError(
            f"{name} not found: {str(path)!r} does not exist. Check the path and the working "
            "folder."
        )
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a folder, not {what}. {folder_hint}".rstrip())
    if path.stat().st_size == 0:
        raise InputError(
            f"{name} {str(path)!r} is empty (0 bytes): an interrupted "
            "download, export or copy? Write it again."
        )


def check_writable(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Refuse early when ``path`` cannot be written; return it as an absolute :class:`Path`.

    Args:
        path: the destination file.
        overwrite: replace an existing file instead of refusing.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False.
        InputError: ``path`` is an existing folder.
    """
    out = Path(path).expanduser().absolute()
    if out.is_dir():
        raise InputError(f"Cannot write {out}: it is a folder. Give a file name instead.")
    if out.exists() and not overwrite:
        raise _exists_error(out)
    return out


def _exists_error(out: Path, *, appeared: bool = False) -> OutputExistsError:
    what = "it appeared while sddr was writing it" if appeared else "the file exists"
    return OutputExistsError(
        f"Refusing to overwrite {out}: {what}. Pass overwrite=True (--overwrite on the "
        "command line) to replace it, or choose another name."
    )


def atomic_write(
    path: str | os.PathLike[str],
    writer: Callable[[BinaryIO], None],
    *,
    overwrite: bool = False,
) -> Path:
    """Write a file atomically: ``writer(fileobj)`` fills a temporary file that then replaces
    ``path``.

    Parent folders are created. With ``overwrite=False`` an existing file is never touched,
    also when it appears while ``writer`` runs (the final step is a no-clobber hard link where
    the file system supports one). The temporary file is removed if ``writer`` fails.

    Args:
        path: the destination file.
        writer: called once with a binary file object open for writing; it must not close it.
        overwrite: replace an existing file instead of refusing.

    Returns:
        The absolute path written.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False.
        InputError: ``path`` is an existing folder.
        SddrError: the folder cannot be created or the file cannot be written (the message
            carries the operating system's reason).
    """
    out = check_writable(path, overwrite=overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SddrError(
            f"Cannot create the folder {out.parent} for {out.name}: {exc.strerror or exc}. "
            "Check the path and your permissions, or write somewhere else."
        ) from exc

    tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
    try:
        # os.open with 0o666 lets the umask decide the final permissions, like open() would.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        _commit(tmp, out, overwrite=overwrite)
    except OutputExistsError:  # a FileExistsError, hence an OSError: let it through as is
        raise
    except OSError as exc:
        raise SddrError(
            f"Cannot write {out}: {exc.strerror or exc}. Check that the folder is writable "
            "and the disk has space, or write somewhere else."
        ) from exc
    finally:
        # After a successful commit the temporary name is gone; otherwise clean it up.
        if tmp.exists():
            tmp.unlink()
    return out


def _commit(tmp: Path, out: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, out)
        return
    try:
        os.link(tmp, out)  # fails if ``out`` exists: no clobbering even under a race
    except FileExistsError:
        raise _exists_error(out, appeared=True) from None
    except OSError:  # no hard links on this file system (FAT, some network shares)
        if out.exists():
            raise _exists_error(out, appeared=True) from None
        os.replace(tmp, out)
    else:
        tmp.unlink()
