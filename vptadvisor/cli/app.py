"""The `vptadvisor` Typer application: every command module registers itself on `app`.

Here rather than in `vptadvisor/cli/__init__.py`, so that the command modules import this module and
the package imports them (in `_register`), without an import cycle.
"""

from __future__ import annotations

import typer

from vptadvisor.cli.examples import example

# Plain (click) help, not Rich: it wraps long descriptions at the terminal width instead of cutting
# them off with "…", and prints text such as [tool.vptadvisor] as written (Rich markup ate it).
app = typer.Typer(
    name="vptadvisor",
    help="Decide between Visual Prompt Tuning (VPT) and full fine-tuning (FT) for a pretrained ViT.\n\n"
    "Exit codes: 0 ok, 1 a gate failed, 2 usage or configuration error, 3 could not measure "
    "(or write) / internal error, 130 interrupted, 143 terminated.",
    epilog=example("vptadvisor analyze ./my_dataset", "vptadvisor analyze --demo"),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from vptadvisor.version import __version__

        typer.echo(f"vptadvisor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """The options before the command (--version); the help is the Typer's."""
