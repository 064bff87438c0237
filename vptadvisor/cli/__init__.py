"""The `vptadvisor` command line: a thin layer over the Python API.

Each command lives in its own module and registers itself on `app`; `main()` maps the errors a
user can cause onto the documented exit codes (0 ok, 1 gate failed, 2 usage, 3 could not measure)
and prints them as one line on stderr, without a traceback.
"""

from __future__ import annotations

import sys

import typer

from vptadvisor.errors import VptAdvisorError


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


def _classes(name: str) -> tuple[type, ...]:
    found = {getattr(typer, name, None)}
    for module in _click_modules():
        found.add(getattr(module.exceptions, name, None))
    return tuple(c for c in found if isinstance(c, type))


_EXIT = _classes("Exit")
_USAGE = _classes("UsageError")
_CLICK_ERROR = _classes("ClickException")
_ABORT = _classes("Abort")
_NO_ARGS_HELP = _classes("NoArgsIsHelpError")

app = typer.Typer(
    name="vptadvisor",
    help="Decide between Visual Prompt Tuning (VPT) and full fine-tuning (FT) for a pretrained ViT.\n\n"
    "Exit codes: 0 ok, 1 a gate failed, 2 usage or configuration error, 3 could not measure.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _register() -> None:
    # Import for their side effect: each module adds its commands to `app`.
    from vptadvisor.cli import analyze_cmd, reference_cmd  # noqa: F401
    from vptadvisor.cli import study_cmd  # noqa: F401
    from vptadvisor.cli import pilot_cmd  # noqa: F401
    from vptadvisor.cli import probe_cmd  # noqa: F401
    from vptadvisor.cli import check_cmd, config_cmd  # noqa: F401
    from vptadvisor.cli import predict_cmd  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    _register()
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="vptadvisor", standalone_mode=False)
    except VptAdvisorError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except _EXIT as exc:
        sys.exit(exc.exit_code)
    except _NO_ARGS_HELP as exc:  # `vptadvisor` or a group alone: help was asked for, in effect
        exc.show()
        sys.exit(0)
    except _CLICK_ERROR as exc:  # usage errors: bad option, missing argument, bad value
        exc.show()
        sys.exit(2 if isinstance(exc, _USAGE) else exc.exit_code)
    except _ABORT:
        typer.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(0)
