"""The report: verdict, inputs, evidence, the decision map, the size curve and the pilot's curves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vptadvisor.report.render import Bullets, Document, Figure, Heading, Para, Table, report_format, write_document
from vptadvisor.results import CHOICE_TEXT, AnalyzeResult, confirmation
from vptadvisor.results.pilot import PilotResult

if TYPE_CHECKING:
    from vptadvisor.config import Config
    from vptadvisor.gate import GateOutcome
    from vptadvisor.rule import Rule

INPUT_NAMES = {"objective": "task objective", "fid": "FID", "n_train": "training images"}
MAX_SKIPPED = 20


def _about(n: int) -> int:
    """Two significant digits: the crossing sizes are not known better than that."""
    digits = max(0, len(str(int(n))) - 2)
    return int(round(n, -digits))


def _verdict_section(
    doc: Document,
    result: AnalyzeResult,
    gate: GateOutcome | None,
    pilot: PilotResult | None,
    pilot_ran: bool,
    rule: Rule,
) -> None:
    from vptadvisor.report.decision_map import crossings, user_point

    v = result.require_verdict()
    fid, fid_sd, p_user, n_user = user_point(result)
    lo, hi = v.margin_interval
    doc.add(Heading(1, "Verdict"))
    tone = {"vpt": "good", "ft": "good", "uncertain": "neutral"}.get(v.choice)
    doc.add(
        Para(
            f"{CHOICE_TEXT.get(v.choice, v.choice)}: P(VPT better than full fine-tuning) = {v.p_vpt:.2f}; expected "
            f"margin VPT - FT {v.margin:+.1f} accuracy points ({v.interval_level:.0%} interval {lo:+.1f} to "
            f"{hi:+.1f}).",
            strong=True,
            tone=tone,
        )
    )
    doc.add(Para(v.advice))
    if gate is not None:
        doc.add(Para(gate.reason, strong=True, tone="good" if gate.passed else "bad"))
    pv = pilot.verdict if pilot is not None and pilot_ran else None
    if pv is not None:
        doc.add(
            Para(
                f"The pilot decided: {CHOICE_TEXT.get(pv.choice, pv.choice)}, P(VPT better) = {pv.p_vpt:.2f} "
                f"(the rule's prediction updated with the measured margin; see Pilot)."
            )
        )
    cross = crossings(rule, fid, p_user, fid_sd)
    parts = [f"below {level:g} at about {_about(n):,} training images" for level, n in cross.items() if n is not None]
    if parts:
        doc.add(
            Para(
                "With the same FID and objective, P(VPT better) falls "
                + ", ".join(parts)
                + f" (you have {n_user:,}; the study covers "
                f"{rule.doc['study_range']['n_train'][0]:,}-{rule.doc['study_range']['n_train'][1]:,})."
            )
        )


def _inputs_section(doc: Document, result: AnalyzeResult) -> None:
    ds, dist, v, obj = result.dataset, result.distance, result.verdict, result.objective
    assert v is not None and v.inputs is not None and obj is not None  # build_report checks
    inputs = v.inputs
    matched = dist.fid_matched or {}
    rows = [
        ["dataset", f"{ds.path} ({ds.layout} layout)"],
        [
            "images",
            f"{ds.n_images:,} readable of {ds.n_files:,} listed, {len(ds.skipped)} skipped, {ds.n_classes} classes",
        ],
        ["training images (rule input)", f"{int(inputs['n_train']):,} ({v.n_train_source})"],
        ["task objective (rule input)", f"P(high disparity) = {obj.p_high_disparity:.2f} ({obj.note or obj.source})"],
        [
            "FID (rule input)",
            f"{inputs['fid']:.1f} ± {inputs.get('fid_sd') or 0:.1f} on the study's "
            f"{matched.get('n_standard', 0):,}-image scale ({matched.get('method', '?')})",
        ],
        ["FID as measured", f"{dist.fid:.2f} ({dist.n_images:,} images against {dist.n_reference:,} reference images)"],
        ["KID", f"{dist.kid:.5f} ± {dist.kid_std:.5f}"],
        ["reference", f"{dist.reference} ({dist.n_reference:,} images); {dist.network}, resize {dist.preprocessing}"],
        [
            "backbone",
            str(inputs.get("backbone") or "not given (the rule's own: ViT-B/16 ImageNet-21k)")
            + ("" if v.backbone_covered else " - not covered by the rule"),
        ],
        ["rule", str(v.rule_version)],
    ]
    doc.add(Heading(1, "Inputs"), Table(["what", "value"], rows))


def _evidence_section(doc: Document, result: AnalyzeResult) -> None:
    v = result.require_verdict()
    assert v is not None and v.inputs is not None  # build_report checks
    ref = v.reference or {}
    doc.add(Heading(1, "Evidence"))
    rows = [
        [
            "typical task",
            f"low disparity, FID {ref.get('fid', 200):g}, {ref.get('n_train', 800):,.0f} images",
            f"{v.reference_margin:+.2f}",
        ]
    ]
    inputs = v.inputs
    values = {
        "objective": f"P(high) {inputs['p_high_disparity']:.2f}",
        "fid": f"{inputs['fid']:.1f}",
        "n_train": f"{int(inputs['n_train']):,}",
    }
    for key, value in (v.contributions or {}).items():
        rows.append([INPUT_NAMES.get(key, key), values.get(key, ""), f"{value:+.2f}"])
    rows.append(["predicted margin VPT - FT", "", f"{v.margin:+.2f}"])
    doc.add(
        Para(
            "How each input moves the predicted margin (accuracy points, exact Shapley split relative to a "
            "typical task of the study):"
        ),
        Table(["input", "your value", "points"], rows),
    )
    if v.nearest_tasks:
        doc.add(
            Para("Closest published results (one row per task):"),
            Table(
                ["task", "group", "training images", "FID", "disparity", "winner", "margin VPT - FT"],
                [
                    [
                        t["task"],
                        t["group"],
                        f"{t['n_train']:,}",
                        f"{t['fid']:.1f} ({t['fid_source']})",
                        t["disparity"],
                        t["winner"].upper(),
                        f"{t['margin']:+.1f}",
                    ]
                    for t in v.nearest_tasks
                ],
            ),
        )
    if v.notes:
        doc.add(Heading(2, "Notes"), Bullets(list(v.notes)))


def _map_section(doc: Document, result: AnalyzeResult, rule: Rule) -> None:
    from vptadvisor.report.decision_map import decision_map_png, size_curve_png, study_rows_near, user_point

    n = user_point(result)[3]
    _, size = study_rows_near(rule, n)
    doc.add(Heading(1, "Decision map"))
    doc.add(
        Figure(
            "decision_map",
            decision_map_png(result, rule),
            "Decision map: FID against objective disparity",
            f"Your dataset (star) among the published tasks (triangles: which method won; VTAB-1k at {size:,} "
            "training images, FGVC at full size). Shading: the rule's P(VPT better) at your training-set size "
            f"({n:,}); solid line P = 0.5, dashed lines the verdict thresholds. VTAB-1k tasks have only their "
            "group's mean FID (Natural, Specialized, Structured), so each group is stacked at that FID; the "
            "study's disparity is binary, so its tasks sit in strips below (low) and above (high) the 0-1 scale.",
        )
    )
    doc.add(
        Figure(
            "size_curve",
            size_curve_png(result, rule),
            "P(VPT better) against training-set size",
            "P(VPT better) for your FID and objective as the training set grows; hatched: outside the sizes "
            "the study measured (extrapolated).",
        )
    )


def _pilot_section(doc: Document, pilot: PilotResult, pilot_ran: bool) -> None:
    from vptadvisor.report.pilot_curves import pilot_curves_png

    doc.add(Heading(1, "Pilot"))
    if not pilot_ran:
        doc.add(Para(f"From the finished run in {pilot.run_dir} (read, not run by this check)."))
    rows = []
    for name, a in pilot.arms.items():
        acc = a.val_accuracy
        ci = a.val_accuracy_interval or [float("nan"), float("nan")]
        rows.append(
            [
                name,
                "-" if acc is None else f"{acc:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]",
                f"{a.trainable_params:,}",
                f"{a.peak_memory_bytes / 2**20:,.0f} MiB",
                f"{a.seconds:.0f}",
                a.status,
            ]
        )
    budget = pilot.budget_seconds
    doc.add(
        Para(
            f"{pilot.backbone} on {pilot.dataset}; {pilot.split.get('n_train', '?')} train / "
            f"{pilot.split.get('n_val', '?')} val images; {pilot.elapsed_seconds:.0f} s"
            + (f" of a {budget:.0f} s budget." if budget else ".")
        ),
        Table(["arm", "val accuracy [95 %]", "trainable params", "peak memory", "seconds", "status"], rows),
    )
    d, pv = pilot.difference, pilot.verdict
    if d is not None:
        lo, hi = d.interval
        doc.add(
            Para(
                f"{d.vpt_arm} - ft: {100 * d.margin:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}] "
                f"(paired bootstrap, {d.n_val} val images), McNemar p = {d.mcnemar_p:.3g}."
            )
        )
    if pv is not None:
        rule = confirmation(pv.confirms_rule, pv.choice, pv.rule_choice)
        doc.add(
            Para(f"Pilot verdict: {CHOICE_TEXT.get(pv.choice, pv.choice)}, P(VPT better) = {pv.p_vpt:.2f}; {rule}.")
        )
    if any(a.curve.get("val") or a.curve.get("train") for a in pilot.arms.values()):
        doc.add(
            Figure(
                "pilot_curves",
                pilot_curves_png(pilot),
                "Pilot learning curves",
                "Training loss and validation accuracy of each arm.",
            )
        )


def _settings_section(doc: Document, config: Config) -> None:
    rows = [[k, _show(config.get(k)), src] for k, src in sorted(config.sources.items()) if src != "default"]
    if rows:
        doc.add(
            Heading(1, "Settings"),
            Para(
                "Settings that are not defaults, and where they came from"
                + (f" (config file {config.file})" if config.file else "")
                + ":"
            ),
            Table(["key", "value", "from"], rows),
        )


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return "null" if value is None else str(value)


def build_report(
    result: AnalyzeResult,
    *,
    gate: GateOutcome | None = None,
    pilot: PilotResult | None = None,
    pilot_ran: bool = False,
    rule: str | os.PathLike[str] | None = None,
    config: Config | None = None,
    notes: list[str] | None = None,
) -> Document:
    from vptadvisor.rule import load_rule

    if result.verdict is None or result.objective is None:
        raise ValueError("build_report needs an analysis with a verdict")
    pilot_doc = pilot
    loaded = load_rule(None if rule is None else Path(rule))
    name = Path(result.dataset.path).name or result.dataset.path
    doc = Document(f"vptadvisor: VPT or full fine-tuning for {name}")
    _verdict_section(doc, result, gate, pilot_doc, pilot_ran, loaded)
    if loaded.rule_version != result.verdict.rule_version:
        doc.add(
            Para(
                f"Note: the figures use rule {loaded.rule_version}; the verdict came from rule "
                f"{result.verdict.rule_version}."
            )
        )
    for note in notes or []:
        doc.add(Para(note))
    _inputs_section(doc, result)
    _evidence_section(doc, result)
    _map_section(doc, result, loaded)
    if pilot_doc is not None:
        _pilot_section(doc, pilot_doc, pilot_ran)
    ds = result.dataset
    if ds.skipped:
        more = [f"... {len(ds.skipped) - MAX_SKIPPED} more (see the JSON)"] if len(ds.skipped) > MAX_SKIPPED else []
        doc.add(
            Heading(1, f"Skipped files ({len(ds.skipped)})"),
            Bullets([f"{s.path}: {s.reason}" for s in ds.skipped[:MAX_SKIPPED]] + more),
        )
    if config is not None:
        _settings_section(doc, config)
    doc.add(
        Heading(1, "Provenance"),
        Table(
            ["what", "value"],
            [
                ["versions", ", ".join(f"{k} {val}" for k, val in result.versions.items())],
                ["seed", str(result.seed)],
                [
                    "time",
                    f"{result.timing.seconds:.1f} s ({result.timing.n_computed} images computed, "
                    f"{result.timing.n_cached} from the cache, {result.timing.device})",
                ],
            ],
        ),
    )
    return doc


def write_report(
    path: str | os.PathLike[str],
    result: AnalyzeResult,
    *,
    gate: GateOutcome | None = None,
    pilot: PilotResult | None = None,
    pilot_ran: bool = False,
    images: str = "embed",
    rule: str | os.PathLike[str] | None = None,
    config: Config | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Write the report as Markdown (.md) or self-contained HTML (.html), atomically; returns the path."""
    path = Path(path)
    report_format(path)  # a bad suffix is a usage error before any work
    doc = build_report(result, gate=gate, pilot=pilot, pilot_ran=pilot_ran, rule=rule, config=config, notes=notes)
    return write_document(doc, path, images=images)
