"""The `vptadvisor` command line: a thin layer over the Python API.

Each command lives in its own module and registers itself on `app`; `main()` maps the errors a
user can cause onto the documented exit codes (0 ok, 1 gate failed, 2 usage, 3 could not measure)
and prints them as one line on stderr, without a traceback.
"""

from __future__ import annotations

import sys

import click
import typer

from vptadvisor.errors import VptAdvisorError

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
    from vptadvisor.cli import analyze_cmd  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    _register()
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="vptadvisor", standalone_mode=False)
    except VptAdvisorError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: bad option, missing argument
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(0)
