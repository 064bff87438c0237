"""The `vptadvisor` command line: a thin layer over the Python API.

Each command lives in its own module and registers itself on `app`; `main()` maps the errors a
user can cause onto the documented exit codes (0 ok, 1 gate failed, 2 usage, 3 could not measure)
and prints them as one line on stderr, without a traceback; Ctrl-C exits 130, SIGTERM 143, and an
internal error 3 with the path of a log file that holds its traceback (see cli/guard.py).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import typer

from vptadvisor.cli.app import app
from vptadvisor.cli.guard import (
    INTERRUPTED_EXIT,
    TERMINATED_EXIT,
    guarded,
    install_signals,
    stdout_is_open,
)


def _click_modules() -> list:
    """The click Typer runs on: its bundled copy (typer >= 0.26) and/or the click package."""
    found = []
    try:
        from typer import _click as bundled  # type: ignore[attr-defined]

        found.append(bundled)
    except ImportError:
        pass
    try:
        import click

        found.append(click)
    except ImportError:
        pass
    return found


def _classes(name: str) -> tuple[type[Any], ...]:  # exception classes of typer / click (attributes vary)
    found = {getattr(typer, name, None)}
    for module in _click_modules():
        found.add(getattr(module.exceptions, name, None))
    return tuple(c for c in found if isinstance(c, type))


_EXIT = _classes("Exit")
_USAGE = _classes("UsageError")
_CLICK_ERROR = _classes("ClickException")
_ABORT = _classes("Abort")
_NO_ARGS_HELP = _classes("NoArgsIsHelpError")


def _register() -> None:
    # Import for their side effect: each module adds its commands to `app`.
    from vptadvisor.cli import (
        analyze_cmd,  # noqa: F401
        backbones_cmd,  # noqa: F401
        check_cmd,  # noqa: F401
        config_cmd,  # noqa: F401
        pilot_cmd,  # noqa: F401
        predict_cmd,  # noqa: F401
        probe_cmd,  # noqa: F401
        reference_cmd,  # noqa: F401
        schema_cmd,  # noqa: F401
        study_cmd,  # noqa: F401
    )


def _invoke(argv: list[str] | None) -> int:
    """Parse and run one command (without click's standalone handling, which turns Ctrl-C into a
    returned 130 and a closed pipe into exit 1); the exit code of a normal ending."""
    command = typer.main.get_command(app)
    try:
        with command.make_context("vptadvisor", list(sys.argv[1:] if argv is None else argv)) as ctx:
            command.invoke(ctx)
    except _EXIT as exc:
        return int(exc.exit_code or 0)
    except _NO_ARGS_HELP as exc:  # `vptadvisor` or a group alone: help was asked for, in effect
        exc.show()
        return 0
    except _CLICK_ERROR as exc:  # usage errors: bad option, missing argument, bad value
        exc.show()
        return 2 if isinstance(exc, _USAGE) else int(exc.exit_code)
    except _ABORT:
        typer.echo("Aborted.", err=True)
        return INTERRUPTED_EXIT
    return 0


def main(argv: list[str] | None = None) -> None:
    """The console entry point: run a command and exit with its documented code (vptadvisor/cli/guard.py)."""
    if not stdout_is_open():
        typer.echo("error: standard output is closed; redirect it instead (`> result.txt` or `> /dev/null`).", err=True)
        sys.exit(2)
    _register()
    log = install_signals()
    try:
        code = guarded(lambda: _invoke(argv), log)
    finally:
        log.close()
    if code in (INTERRUPTED_EXIT, TERMINATED_EXIT) and argv is None:
        # The command line, interrupted: leave now with this code. A second Ctrl-C (or the
        # interpreter's own bookkeeping of the first) during shutdown could otherwise turn it into
        # a death by signal; everything that cleans up (temporary files) already ran.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)
