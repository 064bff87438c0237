"""A report is a list of blocks; this renders them as Markdown or as one self-contained HTML page.

HTML: inline CSS, figures as base64 `data:` URIs, no scripts, no external resources. Markdown:
figures embedded the same way (`images="embed"`), or written as PNG files beside the report and
linked by relative name (`images="files"`; GitHub's Markdown shows those, not `data:` URIs).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vptadvisor.atomic import write_bytes, write_text


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    strong: bool = False
    tone: str | None = None  # "good" | "bad" | "neutral": a coloured box in HTML


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    name: str  # file-name stem when written beside a Markdown report
    png: bytes
    alt: str
    caption: str = ""


@dataclass
class Document:
    title: str
    blocks: list[Any] = field(default_factory=list)

    def add(self, *blocks: Any) -> None:
        self.blocks.extend(blocks)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document, figure_link: Callable[[Figure], str] | None = None) -> str:
    """`figure_link(figure) -> str`: the image target; default a base64 data URI."""
    link = figure_link or (lambda f: "data:image/png;base64," + base64.b64encode(f.png).decode("ascii"))
    out = [f"# {doc.title}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * (b.level + 1) + " " + b.text, ""]
        elif isinstance(b, Para):
            out += [f"**{b.text}**" if b.strong else b.text, ""]
        elif isinstance(b, Bullets):
            out += [f"- {item}" for item in b.items] + [""]
        elif isinstance(b, Table):
            out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            out.append("|" + "---|" * len(b.headers))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
        elif isinstance(b, Figure):
            out += [f"![{b.alt}]({link(b)})", ""]
            if b.caption:
                out += [f"*{b.caption}*", ""]
    return "\n".join(out).rstrip() + "\n"


CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; max-width: 1080px;
       margin: 2em auto; padding: 0 1em; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #eaeef2; padding-bottom: .2em; }
h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .92em; }
th, td { border: 1px solid #d0d7de; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eaeef2; }
figcaption { font-size: .88em; color: #57606a; margin-top: .3em; }
.box { padding: .6em .9em; border-radius: 6px; border: 1px solid; margin: .6em 0; }
.good { background: #dafbe1; border-color: #4ac26b; } .bad { background: #ffebe9; border-color: #ff8182; }
.neutral { background: #fff8c5; border-color: #d4a72c; }
"""


def to_html(doc: Document) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(doc.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(doc.title)}</h1>",
    ]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level + 1}>{e(b.text)}</h{b.level + 1}>")
        elif isinstance(b, Para):
            text = f"<strong>{e(b.text)}</strong>" if b.strong else e(b.text)
            out.append(f'<p class="box {b.tone}">{text}</p>' if b.tone else f"<p>{text}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{e(str(h))}</th>" for h in b.headers)
            body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in b.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(b, Figure):
            data = base64.b64encode(b.png).decode("ascii")
            cap = f"<figcaption>{e(b.caption)}</figcaption>" if b.caption else ""
            out.append(f'<figure><img alt="{e(b.alt)}" src="data:image/png;base64,{data}">{cap}</figure>')
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def report_format(path: str | Path) -> str:
    """'md' or 'html' from the file name; anything else is a usage error."""
    from vptadvisor.errors import UsageError

    suffix = Path(path).suffix.lower()
    if suffix in (".md", ".markdown"):
        return "md"
    if suffix in (".html", ".htm"):
        return "html"
    raise UsageError(
        f"--report {path}: the report is written as Markdown (.md) or HTML (.html); use one of those extensions."
    )


def write_document(doc: Document, path: str | Path, images: str = "embed") -> Path:
    """Write `doc` atomically as Markdown or HTML (by suffix); with images="files" a Markdown report
    gets its figures as `<stem>.<figure>.png` beside it."""
    path = Path(path)
    kind = report_format(path)
    if kind == "html":
        write_text(path, to_html(doc))
        return path

    def beside(fig: Figure) -> str:
        name = f"{path.stem}.{fig.name}.png"
        write_bytes(path.parent / name, fig.png)
        return name

    write_text(path, to_markdown(doc, beside if images == "files" else None))
    return path
