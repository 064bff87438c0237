"""Help-text helpers: an example block for a command's epilog that click prints as written."""

from __future__ import annotations


def example(*lines: str) -> str:
    """An "Example(s):" epilog; the \\b line keeps click from re-wrapping the command lines."""
    head = "Example:" if len(lines) == 1 else "Examples:"
    return "\b\n" + head + "\n" + "\n".join(f"  {line}" for line in lines)
