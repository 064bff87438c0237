"""How a command ends: every way out maps onto one documented exit code and one line on stderr.

    0    ok
    1    a gate failed (only ever from a gate; never from a crash or an interruption)
    2    usage or configuration error
    3    could not measure: unreadable data, a result that could not be written (disk full, closed
         stdout pipe), or an internal error (a bug: the traceback goes to a log file, named on stderr)
    130  interrupted (SIGINT, Ctrl-C): "Interrupted."
    143  terminated (SIGTERM): "Terminated."

Set VPTADVISOR_DEBUG=1 to also print an internal error's traceback on stderr (the exit code stays 3).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from vptadvisor.errors import INTERNAL_ERROR_EXIT, VptAdvisorError

INTERRUPTED_EXIT = 130
TERMINATED_EXIT = 143
DEBUG_ENV = "VPTADVISOR_DEBUG"
_STDOUT_ERRNOS = {errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT, errno.EFBIG}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so the same cleanup runs."""


class SignalLog:
    """Which signals arrived, even those a command's own handler took (the pilot checkpoints on
    SIGINT/SIGTERM and raises its own error): read from the interpreter's wakeup fd. `close()` puts
    back the handlers and wakeup fd that were there before (main() may run inside another program)."""

    def __init__(self) -> None:
        self._fds: tuple[int, int] | None = None
        self._previous_fd = -1
        self._handlers: dict[int, object] = {}
        self.seen: set[int] = set()
        try:
            self._handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
            signal.signal(signal.SIGTERM, _on_sigterm)
            if self._handlers[signal.SIGINT] is not signal.SIG_IGN:  # ignored (`cmd &` in a script): keep it so
                signal.signal(signal.SIGINT, signal.default_int_handler)
        except ValueError:  # not the main thread: leave the handlers alone
            self._handlers = {}
            return
        try:
            r, w = os.pipe()
            os.set_blocking(r, False)
            os.set_blocking(w, False)
            self._previous_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
            self._fds = (r, w)
        except (OSError, ValueError):  # no pipes left: best effort
            pass

    def received(self) -> set[int]:
        while self._fds is not None:
            try:
                chunk = os.read(self._fds[0], 512)
            except OSError:
                break
            if not chunk:
                break
            self.seen.update(chunk)
        return self.seen

    def close(self) -> None:
        for s, h in self._handlers.items():
            signal.signal(s, h)  # type: ignore[arg-type]
        if self._fds is not None:
            signal.set_wakeup_fd(self._previous_fd)
            for fd in self._fds:
                os.close(fd)
            self._fds = None


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def install_signals() -> SignalLog:
    """SIGTERM raises `Terminated` (a KeyboardInterrupt), SIGINT raises KeyboardInterrupt."""
    return SignalLog()


def stdout_is_open() -> bool:
    """False when the process started with fd 1 closed (`>&-`): Python then sets sys.stdout to None."""
    if sys.stdout is None:
        return False
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # a stream without a descriptor (captured output)
        return True
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def silence_stdout() -> None:
    """After stdout failed, point fd 1 at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def crash_log(exc: BaseException) -> Path | None:
    """Write the traceback to a log file (the cache's logs/ folder, else the temp dir); its path."""
    import tempfile

    from vptadvisor import __version__
    from vptadvisor.paths import cache_dir

    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = f"vptadvisor {__version__}, python {sys.version.split()[0]}, argv {sys.argv!r}\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__)
    )
    for folder in (cache_dir() / "logs", Path(tempfile.gettempdir())):
        path = folder / f"vptadvisor-crash-{stamp}-{os.getpid()}.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def _say(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):
        pass


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def guarded(run: Callable[[], int], log: SignalLog) -> int:
    """Run `run` (returns an exit code) and turn whatever escapes it into an exit code and a line."""
    try:
        code = run()
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except OSError as exc:
            raise _StdoutFailed(exc) from None
        return code
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated) or signal.SIGTERM in log.received()
        _say("Terminated." if terminated else "Interrupted.")
        return TERMINATED_EXIT if terminated else INTERRUPTED_EXIT
    except VptAdvisorError as exc:
        _say(f"error: {exc.message}")
        if exc.exit_code == INTERRUPTED_EXIT and signal.SIGTERM in log.received():
            return TERMINATED_EXIT
        return exc.exit_code
    except _StdoutFailed as exc:
        silence_stdout()
        _say(
            f"error: could not write the result to standard output ({exc.cause.strerror}); "
            "check where stdout goes (a closed pipe, a full disk) and run again."
        )
        return INTERNAL_ERROR_EXIT
    except MemoryError:
        _say("error: ran out of memory; use a smaller --batch-size or fewer --workers, or free memory and run again.")
        return INTERNAL_ERROR_EXIT
    except OSError as exc:
        if exc.filename is None and exc.errno in _STDOUT_ERRNOS:
            silence_stdout()
            _say(
                f"error: could not write the result to standard output ({exc.strerror}); "
                "check where stdout goes (a closed pipe, a full disk) and run again."
            )
            return INTERNAL_ERROR_EXIT
        _debug(exc)
        where = f" {exc.filename}" if exc.filename else ""
        log_path = crash_log(exc)
        _say(
            f"error: could not access{where} ({exc.strerror or exc}); check the path, its permissions and free "
            f"disk space{_log_hint(log_path)}."
        )
        return INTERNAL_ERROR_EXIT
    except Exception as exc:  # a bug: never exit 1 (gate failed), never a bare traceback
        _debug(exc)
        log_path = crash_log(exc)
        _say(
            f"error: internal error ({type(exc).__name__}: {_one_line(str(exc), 200)}); this is a bug in "
            f"vptadvisor{_log_hint(log_path)}, please report it."
        )
        return INTERNAL_ERROR_EXIT


def _debug(exc: BaseException) -> None:
    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def _log_hint(path: Path | None) -> str:
    return f" (details in {path})" if path is not None else ""


class _StdoutFailed(Exception):
    def __init__(self, cause: OSError):
        super().__init__(str(cause))
        self.cause = cause
