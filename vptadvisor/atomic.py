"""Atomic file writes: a reader never sees a half-written file, and a link is never replaced.

- A symlink is written *through*: the resolved target is replaced, atomically, by a temporary file
  made beside it; the link itself stays.
- A directory, FIFO, device or socket is refused (`WriteRefused`, exit 2): writing there would
  replace the node (or block). For standard output, pass ``-`` (`write_output`).
- An existing file keeps its permission bits.
- Failures are OSErrors that are also vptadvisor errors naming the path: permission denied or a
  read-only file system -> `WriteRefused` (exit 2); no space left -> `WriteFailed` (exit 3).
  Callers that treat a write as optional (caches) catch OSError as before.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vptadvisor.errors import MeasureError, UsageError

STDOUT = "-"
_REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG}
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class WriteRefused(UsageError, OSError):
    """The path cannot be written (permissions, read-only file system, not a regular file): exit 2."""


class WriteFailed(MeasureError, OSError):
    """Writing failed part way (no space left, I/O error): exit 3."""


def _kind(mode: int) -> str | None:
    """What a non-regular node is, or None for a regular file."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return None


def resolve_target(target: str | os.PathLike) -> Path:
    """The file a write to `target` must replace: symlinks resolved (a dangling link: the file it
    names). Refuses directories, FIFOs, devices and sockets."""
    given = Path(target).expanduser()
    resolved = Path(os.path.realpath(given))
    try:
        st = os.stat(resolved)
    except FileNotFoundError:
        return resolved
    except OSError as exc:
        raise WriteRefused(f"Cannot write {given} ({exc.strerror}); choose another path.") from None
    kind = _kind(st.st_mode)
    if kind is not None:
        where = "" if resolved == given.absolute() else f" (it resolves to {resolved})"
        hint = (
            "give a file path inside it"
            if kind == "a directory"
            else f"write to a regular file, or pass {STDOUT} for standard output"
        )
        raise WriteRefused(f"{given} is {kind}{where}; {hint}.")
    return resolved


def _error(target: Path, exc: OSError) -> OSError:
    reason = exc.strerror or str(exc)
    if exc.errno in _NO_SPACE:
        return WriteFailed(f"Cannot write {target}: {reason}; free disk space or write elsewhere.")
    if exc.errno in _REFUSED:
        return WriteRefused(f"Cannot write {target}: {reason}; choose a writable path.")
    return WriteFailed(f"Cannot write {target}: {reason}.")


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside the file `target` resolves to; on success it replaces that file
    in one step (a symlink `target` keeps pointing at it)."""
    final = resolve_target(target)
    tmp_path: Path | None = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            mode = stat.S_IMODE(os.stat(final).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()  # mkstemp makes 0600; results are ordinary files
        os.chmod(tmp_path, mode)
        yield tmp_path
        os.replace(tmp_path, final)
    except (WriteRefused, WriteFailed):
        raise
    except OSError as exc:
        raise _error(final, exc) from None
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_text(target: str | os.PathLike, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def is_stdout(target: str | os.PathLike | None) -> bool:
    return target is not None and str(target) == STDOUT


def check_output(target: str | os.PathLike | None, option: str) -> None:
    """Before any work: refuse an output path that cannot be written (exit 2, naming it)."""
    if target is None or is_stdout(target):
        return
    final = resolve_target(target)
    if final.exists():
        if not stat.S_IMODE(os.stat(final).st_mode) & 0o222:
            raise WriteRefused(f"{option} {target} is read-only; choose another path or make it writable.")
        folder = final.parent
    else:
        folder = final.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise WriteRefused(f"{option} {target}: {folder} is not a directory; choose another path.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteRefused(f"{option} {target}: the directory {folder} is not writable; choose another path.")


def write_output(target: str | os.PathLike, text: str, option: str = "--output") -> None:
    """Write a result the user asked for: ``-`` is standard output, anything else an atomic file write."""
    if is_stdout(target):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    check_output(target, option)
    write_text(target, text)
