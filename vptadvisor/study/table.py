"""The study table: one tidy row per (task, training-set size, backbone) of published FT-vs-VPT results.

Dev time: ``python -m vptadvisor.study.table --from ../shared/study`` rebuilds
``data/study/study_table.csv`` from the compiled published results (see ``data/study/README.md``).
Run time: :func:`load_table` reads the shipped CSV; nothing here needs ``../shared``.

Every number is copied as printed in its source; ``margin`` is always ``vpt_acc - ft_acc`` (test
accuracy, points), rounded to two decimals. Ties (margin 0.0 at the printed precision) keep
``winner = "tie"``.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from vptadvisor.atomic import write_text
from vptadvisor.errors import UsageError
from vptadvisor.paths import data_dir

DEFAULT_BACKBONE = "vit-b16-in21k"
BACKBONE_LABELS = {
    "vit-b16-in21k": "ViT-B/16, supervised ImageNet-21k",
    "swin-b-in21k": "Swin-B, supervised ImageNet-21k",
    "vit-b16-mae": "ViT-B/16, MAE (self-supervised ImageNet-1k)",
    "vit-b16-mocov3": "ViT-B/16, MoCo v3 (self-supervised ImageNet-1k)",
}
_OTHER_BACKBONES = {  # name in elephant_other_pretraining.csv -> (key, tables)
    "Swin-B IN21k": ("swin-b-in21k", "Tables 7-9"),
    "ViT-B/16 MAE": ("vit-b16-mae", "Tables 10-12"),
    "ViT-B/16 MoCo v3": ("vit-b16-mocov3", "Tables 13-15"),
}
ELEPHANT = "Han et al., ICLR 2024 (Facing the Elephant in the Room)"
VFPT = "Zeng, Han et al., NeurIPS 2024 (VFPT), Fig. 2 caption"
VPT_PAPER = "Jia et al., ECCV 2022 (VPT)"
# FGVC training-split sizes: not in ../shared/study. The VPT paper's dataset table (appendix)
# lists train/val/test; train = the official training set minus the 10 % held out as val when no
# official val split exists (CUB 5,994 -> 5,394 + 600; NABirds 23,929 -> 21,536 + 2,393; Dogs
# 12,000 -> 10,800 + 1,200; Cars 8,144 -> 7,329 + 815); Flowers has official 1,020 / 1,020 splits.
FGVC_SPLITS = {
    "CUB-200-2011": (5394, 600),
    "NABirds": (21536, 2393),
    "OxfordFlowers": (1020, 1020),
    "StanfordDogs": (10800, 1200),
    "StanfordCars": (7329, 815),
}
FGVC_SPLIT_SOURCE = f"n_train/n_val: {VPT_PAPER}, appendix dataset table (train/val/test sizes)"
TABLE_FILE = "study_table.csv"
FID_SOURCES = ("per-task", "group-mean")


@dataclass(frozen=True)
class StudyRow:
    """One published FT-vs-VPT comparison (accuracies in %, margin in points)."""

    task: str
    benchmark: str  # "VTAB-1k" | "FGVC"
    group: str  # Natural | Specialized | Structured | FGVC
    disparity: str  # "low" | "high": the Elephant paper's task-objective disparity group
    backbone: str  # key of BACKBONE_LABELS
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


def _num(text: str) -> float:
    """A printed number, ignoring a trailing '(d)' suffix such as '58.2(3)'."""
    m = re.match(r"\s*(-?\d+(?:\.\d+)?)", text)
    if not m:
        raise ValueError(f"not a number: {text!r}")
    return float(m.group(1))


def _winner(margin: float) -> str:
    return "vpt" if margin > 0 else "ft" if margin < 0 else "tie"


def _margin(vpt: float, ft: float) -> float:
    return round(vpt - ft, 2)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def build_rows(study_dir: str | Path) -> list[StudyRow]:
    """Build the tidy rows from the compiled published results in ``study_dir`` (../shared/study)."""
    d = Path(study_dir)
    if not (d / "elephant_datasize.csv").is_file():
        raise UsageError(f"{d} does not hold the compiled study CSVs: pass the shared/study directory.")
    tasks = {r["task"]: r for r in _read(d / "vtab_tasks.csv")}
    group_fid: dict[str, float] = {}
    for r in _read(d / "fid_reference_values.csv"):
        if r["granularity"] == "group mean" and r["FID"]:
            group_fid[r["dataset"].split()[1]] = float(r["FID"])  # "VTAB-1k Natural (...)"
    table1 = {r["task"]: r for r in _read(d / "elephant_vtab_ft_vs_vpt.csv")}
    rows: list[StudyRow] = []

    def vtab_fid(group: str) -> tuple[float, str]:
        return group_fid[group], "group-mean"

    for r in _read(d / "elephant_datasize.csv"):
        task, n = r["task"], int(r["n_train"])
        info = tasks[task]
        ft, vpt = _num(r["FT_acc"]), _num(r["VPT_acc"])
        margin = _margin(vpt, ft)
        if abs(margin - float(r["VPT_minus_FT"])) > 1e-9:
            raise ValueError(f"{task} at {n}: printed margin {r['VPT_minus_FT']} != {margin}")
        notes = [r["note"]] if r["note"] else []
        if n == 800:
            t1 = table1[task]
            ft1, vpt1 = _num(t1["FT_acc"]), _num(t1["VPT_acc"])
            if (ft1, vpt1) != (ft, vpt) and "Table 1" not in r["note"]:
                notes.append(f"Table 1 prints FT {t1['FT_acc']} / VPT {t1['VPT_acc']}")
            if margin == 0:
                notes.append("paper counts this tie as a VPT win (Table 1)")
        fid, fid_src = vtab_fid(info["group"])
        rows.append(StudyRow(
            task=task, benchmark="VTAB-1k", group=info["group"],
            disparity=info["elephant_task_disparity"].split()[0], backbone=DEFAULT_BACKBONE,
            n_train=n, n_val=int(r["n_val(4:1)"]), ft_acc=ft, vpt_acc=vpt, margin=margin,
            winner=_winner(margin), fid=fid, fid_source=fid_src,
            source=f"{ELEPHANT}, appendix {r['source(Elephant appendix)']} (data-size study); "
            f"FID: {VFPT} (group mean)",
            note="; ".join(notes),
        ))
    for r in _read(d / "elephant_fgvc_fid.csv"):
        task = r["task"]
        ft, vpt = _num(r["FT_acc"]), _num(r["VPT_deep_acc"])
        margin = _margin(vpt, ft)
        n_train, n_val = FGVC_SPLITS[task]
        rows.append(StudyRow(
            task=task, benchmark="FGVC", group="FGVC", disparity="low", backbone=DEFAULT_BACKBONE,
            n_train=n_train, n_val=n_val, ft_acc=ft, vpt_acc=vpt, margin=margin,
            winner=_winner(margin), fid=float(r["FID_to_pretraining"]), fid_source="per-task",
            source=f"{ELEPHANT}, Table 19 (accuracies and FID); {FGVC_SPLIT_SOURCE}",
            note="accuracies identical to the VPT paper's FGVC table",
        ))
    for r in _read(d / "elephant_other_pretraining.csv"):
        key, tables = _OTHER_BACKBONES[r["backbone_pretraining"]]
        task = r["task"]
        info = tasks[task]
        ft, vpt = _num(r["FT_acc"]), _num(r["VPT_acc"])
        margin = _margin(vpt, ft)
        note = ""
        if key == "swin-b-in21k" and task == "SVHN":
            note = "VPT 86.4 as printed; VFPT Table S5 gives 46.4 (Elephant value likely a typo)"
        if key == "vit-b16-mocov3" and task == "Retinopathy":
            note = "VFPT prints the FT value as 74.2 (Table S12) and 74.3 (Table S15)"
        fid, fid_src = vtab_fid(info["group"])
        rows.append(StudyRow(
            task=task, benchmark="VTAB-1k", group=info["group"],
            disparity=info["elephant_task_disparity"].split()[0], backbone=key,
            n_train=800, n_val=200, ft_acc=ft, vpt_acc=vpt, margin=margin, winner=_winner(margin),
            fid=fid, fid_source=fid_src,
            source=f"{ELEPHANT}, appendix {tables}; FID: {VFPT} (group mean, ImageNet reference)",
            note=note,
        ))
    order = {k: i for i, k in enumerate(BACKBONE_LABELS)}
    rows.sort(key=lambda x: (order[x.backbone], x.benchmark != "VTAB-1k", x.n_train if
                             x.benchmark == "VTAB-1k" else 0, x.benchmark, _task_rank(x, tasks)))
    return rows


def _task_rank(row: StudyRow, tasks: dict[str, dict[str, str]]) -> int:
    names = list(tasks) + list(FGVC_SPLITS)
    return names.index(row.task)


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
        out.append(StudyRow(
            task=r["task"], benchmark=r["benchmark"], group=r["group"], disparity=r["disparity"],
            backbone=r["backbone"], n_train=int(r["n_train"]), n_val=int(r["n_val"]),
            ft_acc=float(r["ft_acc"]), vpt_acc=float(r["vpt_acc"]), margin=float(r["margin"]),
            winner=r["winner"], fid=float(r["fid"]), fid_source=r["fid_source"],
            source=r["source"], note=r["note"],
        ))
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
    seen: set[tuple[str, int, str]] = set()
    for r in rows:
        key = (r.task, r.n_train, r.backbone)
        where = f"{r.task} / {r.n_train} / {r.backbone}"
        if key in seen:
            problems.append(f"duplicate row {where}")
        seen.add(key)
        if not r.source.strip():
            problems.append(f"row {where} has no source")
        if abs(r.margin - _margin(r.vpt_acc, r.ft_acc)) > 1e-9:
            problems.append(f"row {where}: margin {r.margin} != VPT - FT")
        if r.winner != _winner(r.margin):
            problems.append(f"row {where}: winner {r.winner} disagrees with margin {r.margin}")
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vptadvisor.study.table", description=__doc__.split("\n")[0])
    ap.add_argument("--from", dest="src", required=True, help="the shared/study directory")
    ap.add_argument("--out", default=None, help="output CSV (default: data/study/study_table.csv)")
    ap.add_argument("--check", action="store_true", help="only check that the output is up to date")
    args = ap.parse_args(argv)
    rows = build_rows(args.src)
    problems = integrity_problems(rows)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    text = rows_to_csv(rows)
    out = Path(args.out) if args.out else default_table_path()
    if args.check:
        same = out.is_file() and out.read_text(encoding="utf-8") == text
        print(f"{out}: {'up to date' if same else 'OUT OF DATE'}")
        return 0 if same else 1
    write_text(out, text)
    print(f"wrote {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
