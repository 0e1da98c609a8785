"""Reading paired arrays from disk and writing results atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from dim.errors import ConfigError, DataError

__all__ = ["load_array", "atomic_path", "atomic_directory", "refuse_overwrite", "removed_on_error", "write_json_atomic",
           "write_text_atomic"]

SUFFIXES = (".npy", ".npz", ".csv")


def load_array(spec: str, name: str) -> np.ndarray:
    """Load one side of the pairs.

    spec: ``FILE.npy``, ``FILE.csv`` (comma-separated numbers, optional header row), or
    ``FILE.npz[:KEY]`` (KEY may be left out when the archive holds one array or one named
    ``name``). name: "x" or "y", used in messages and as the default npz key.
    """
    path_text, _, key = spec.partition(":") if spec.count(":") == 1 and ".npz:" in spec else (spec, "", "")
    path = Path(path_text)
    if path.suffix not in SUFFIXES:
        raise DataError(f"{name}={spec}: unsupported file type {path.suffix!r}; use .npy, .npz or .csv")
    if not path.is_file():
        raise DataError(f"{name}={spec}: no such file; check the path")
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix == ".npz":
            return _load_npz(path, key, name)
        return _load_csv(path)
    except DataError:
        raise
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{name}={spec}: cannot read it ({str(error).splitlines()[0]}); is it a valid {path.suffix} file?") from None


def _load_npz(path: Path, key: str, name: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.keys())
        chosen = key or (name if name in keys else keys[0] if len(keys) == 1 else "")
        if chosen not in keys:
            raise DataError(
                f"{name}={path}: {'no array named ' + repr(key) if key else 'several arrays'} in the archive "
                f"(it holds {', '.join(keys) or 'none'}); name one as {name}={path}:KEY"
            )
        return archive[chosen]


def _load_csv(path: Path) -> np.ndarray:
    with path.open() as handle:
        first = handle.readline()
    try:
        [float(v) for v in first.strip().split(",") if v.strip()]
        skip = 0
    except ValueError:
        skip = 1  # a header row
    try:
        return np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, dtype=np.float64)
    except ValueError as error:
        raise DataError(f"{path}: not all values are numbers ({error}); clean the file first") from None


def _umask() -> int:
    """The process's file mode creation mask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on success it is renamed over
    ``path``, on any error it is removed, so ``path`` is never half-written. The temporary
    name keeps ``path``'s suffix (``np.save``, ``np.savez`` and ``savefig`` read it). The file
    gets the mode that ``open()`` would give it (0644 under umask 022), not mkstemp's 0600."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}")
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_umask())
    try:
        yield Path(temporary)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def refuse_overwrite(path: str | os.PathLike, overwrite: bool, key: str) -> None:
    """A one-line :class:`ConfigError` if ``path`` exists (an empty directory does not count)
    and ``overwrite`` is false; ``key`` is the setting that named ``path``."""
    target = Path(path)
    if overwrite or not target.exists() or target.is_dir() and not any(target.iterdir()):
        return
    raise ConfigError(f"{target} already exists; pass overwrite=true to replace it, or another {key}")


@contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False, key: str = "out_dir") -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path`` to fill; on success it replaces
    ``path`` whole (an existing ``path`` only with ``overwrite``, see :func:`refuse_overwrite`),
    on any error it is removed and ``path`` stays as it was."""
    target = Path(path)
    refuse_overwrite(target, overwrite, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    os.chmod(temporary, 0o777 & ~_umask())
    previous = temporary.with_suffix(".old")
    try:
        yield temporary
        if target.exists():
            os.replace(target, previous)
        os.replace(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)


@contextmanager
def removed_on_error(directory: str | os.PathLike) -> Iterator[None]:
    """On an error inside the block, remove what it created under ``directory``: the directory
    (with any parents the block created) if it did not exist before, else the new entries in it."""
    target = Path(directory)
    created = [p for p in (target, *target.parents) if not p.exists()]
    before = set() if created or not target.is_dir() else set(target.iterdir())
    try:
        yield
    except BaseException:
        if created:
            shutil.rmtree(created[-1], ignore_errors=True)
        elif target.is_dir():
            for entry in set(target.iterdir()) - before:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write text to a temporary file beside ``path``, then rename it into place."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)
    return Path(path)


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """Write JSON atomically (see :func:`write_text_atomic`)."""
    return write_text_atomic(path, json.dumps(payload, indent=2) + "\n")
