"""The study table: one tidy row per (task, training-set size, backbone) of published FT-vs-VPT results.

Dev time: ``python tools/build_study_table.py --from ../shared/study`` rebuilds
``data/study/study_table.csv`` from the compiled published results (see ``data/study/README.md``).
Run time: :func:`load_table` reads the shipped CSV; nothing here needs ``../shared``.

``evidence`` says how a row is used by the rule: ``fit`` (the Elephant paper's standard protocol),
``one-shot`` (the Elephant paper's one-shot results, one image per class, n_train = number of
classes; in the fit and scored leave-one-task-out on their own) or ``external`` (the VPT paper's
own runs of VTAB-1k: never fitted, an external test).

Every number is copied as printed in its source; ``margin`` is always ``vpt_acc - ft_acc`` (test
accuracy, points), rounded to two decimals. Ties (margin 0.0 at the printed precision) keep
``winner = "tie"``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from vptadvisor.errors import UsageError
from vptadvisor.paths import data_dir

DEFAULT_BACKBONE = "vit-b16-in21k"
BACKBONE_LABELS = {
    "vit-b16-in21k": "ViT-B/16, supervised ImageNet-21k",
    "swin-b-in21k": "Swin-B, supervised ImageNet-21k",
    "vit-b16-mae": "ViT-B/16, MAE (self-supervised ImageNet-1k)",
    "vit-b16-mocov3": "ViT-B/16, MoCo v3 (self-supervised ImageNet-1k)",
}
TABLE_FILE = "study_table.csv"
FID_SOURCES = ("per-task", "group-mean")
EVIDENCE = ("fit", "one-shot", "external")
FITTED = ("fit", "one-shot")  # evidence kinds the rule is fitted on


@dataclass(frozen=True)
class StudyRow:
    """One published FT-vs-VPT comparison (accuracies in %, margin in points)."""

    task: str
    benchmark: str  # "VTAB-1k" | "FGVC"
    group: str  # Natural | Specialized | Structured | FGVC
    disparity: str  # "low" | "high": the Elephant paper's task-objective disparity group
    backbone: str  # key of BACKBONE_LABELS
    evidence: str  # "fit" | "one-shot" | "external" (module docstring)
    n_train: int
    n_val: int
    ft_acc: float
    vpt_acc: float
    margin: float  # vpt_acc - ft_acc
    winner: str  # "vpt" | "ft" | "tie"
    fid: float  # FID to the pretraining data (per task or the VTAB group mean)
    fid_source: str  # "per-task" | "group-mean"
    source: str
    note: str = ""


COLUMNS = [f.name for f in fields(StudyRow)]


def winner_of(margin: float) -> str:
    return "vpt" if margin > 0 else "ft" if margin < 0 else "tie"


def margin_of(vpt: float, ft: float) -> float:
    return round(vpt - ft, 2)


def rows_to_csv(rows: list[StudyRow]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        d = asdict(row)
        for k in ("ft_acc", "vpt_acc", "margin", "fid"):
            d[k] = repr(float(d[k]))
        w.writerow(d)
    return buf.getvalue()


def parse_csv(text: str) -> list[StudyRow]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != COLUMNS:
        raise UsageError(f"the study table's columns are {reader.fieldnames}, expected {COLUMNS}.")
    out = []
    for r in reader:
        out.append(
            StudyRow(
                task=r["task"],
                benchmark=r["benchmark"],
                group=r["group"],
                disparity=r["disparity"],
                backbone=r["backbone"],
                evidence=r["evidence"],
                n_train=int(r["n_train"]),
                n_val=int(r["n_val"]),
                ft_acc=float(r["ft_acc"]),
                vpt_acc=float(r["vpt_acc"]),
                margin=float(r["margin"]),
                winner=r["winner"],
                fid=float(r["fid"]),
                fid_source=r["fid_source"],
                source=r["source"],
                note=r["note"],
            )
        )
    return out


def default_table_path() -> Path:
    return data_dir() / "study" / TABLE_FILE


def load_table(path: str | Path | None = None, check: bool = True) -> list[StudyRow]:
    """Read the study table (default: the shipped ``data/study/study_table.csv``)."""
    p = Path(path) if path is not None else default_table_path()
    if not p.is_file():
        raise UsageError(f"study table {p} not found: pass an existing CSV or reinstall vptadvisor.")
    rows = parse_csv(p.read_text(encoding="utf-8"))
    if check:
        problems = integrity_problems(rows)
        if problems:
            raise UsageError(f"study table {p} fails its integrity check ({problems[0]}); rebuild it.")
    return rows


def integrity_problems(rows: list[StudyRow]) -> list[str]:
    """Everything wrong with the table, one sentence each (empty list: the table is sound)."""
    problems = []
    seen: set[tuple[str, int, str, str]] = set()
    for r in rows:
        key = (r.task, r.n_train, r.backbone, r.evidence)
        where = f"{r.task} / {r.n_train} / {r.backbone} / {r.evidence}"
        if key in seen:
            problems.append(f"duplicate row {where}")
        seen.add(key)
        if not r.source.strip():
            problems.append(f"row {where} has no source")
        if abs(r.margin - margin_of(r.vpt_acc, r.ft_acc)) > 1e-9:
            problems.append(f"row {where}: margin {r.margin} != VPT - FT")
        if r.winner != winner_of(r.margin):
            problems.append(f"row {where}: winner {r.winner} disagrees with margin {r.margin}")
        if r.evidence not in EVIDENCE:
            problems.append(f"row {where}: evidence must be one of {', '.join(EVIDENCE)}")
        elif r.evidence != "fit" and (r.backbone != DEFAULT_BACKBONE or r.benchmark != "VTAB-1k"):
            problems.append(f"row {where}: {r.evidence} rows exist only for VTAB-1k with {DEFAULT_BACKBONE}")
        if r.backbone not in BACKBONE_LABELS:
            problems.append(f"row {where}: unknown backbone {r.backbone}")
        if r.disparity not in ("low", "high"):
            problems.append(f"row {where}: disparity must be low or high")
        if r.disparity != ("high" if r.group == "Structured" else "low"):
            problems.append(f"row {where}: disparity {r.disparity} does not follow group {r.group}")
        if r.fid_source not in FID_SOURCES or not r.fid > 0:
            problems.append(f"row {where}: missing FID or bad fid_source {r.fid_source}")
        if (r.fid_source == "per-task") != (r.benchmark == "FGVC"):
            problems.append(f"row {where}: per-task FID exists only for FGVC")
        if not (0 <= r.ft_acc <= 100 and 0 <= r.vpt_acc <= 100) or r.n_train <= 0:
            problems.append(f"row {where}: accuracy or n_train out of range")
    return problems
