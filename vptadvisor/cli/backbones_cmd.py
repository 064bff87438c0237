"""`vptadvisor backbones`: the backbone families the rule knows, the timm names that map to each, and
whether their pretrained weights are on this machine (nothing is downloaded)."""

from __future__ import annotations

import json

import typer

from vptadvisor.cli import options as o
from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example

PATTERN_TEXT = {  # the name patterns of rule/families.py, in words
    "swin-b-in21k": "other swin_base_patch4_window{7_224,12_384}.ms_in22k[_ft_in1k] checkpoints",
    "vit-b16-mocov3": "vit_base_patch16_224 names containing moco_v3 / mocov3 (timm ships no such tag)",
}


def _local_weights(name: str) -> str | None:
    """The local file timm would load for `name` (Hugging Face or torch hub cache), or None."""
    from vptadvisor.backbone import find_offline_weights

    try:
        found = find_offline_weights(name)
    except (RuntimeError, ValueError, KeyError, OSError):
        return None
    return None if found is None else str(found)


def backbone_table() -> list[dict[str, object]]:
    """One entry per study family: its label, the timm names that map to it, local weights of each."""
    from vptadvisor.backbone import DEFAULT_BACKBONE
    from vptadvisor.rule import families

    by_family: dict[str, list[str]] = {key: [] for key in families.FAMILIES}
    for name, fam in families.known_names().items():
        if "_" in name:  # timm names; the study keys (vit-b16-in21k) have none
            by_family[fam].append(name)
    out: list[dict[str, object]] = []
    for key in families.FAMILIES:
        names = [
            {
                "name": name,
                "note": families.resolve(name).note,
                "pilot_default": name == DEFAULT_BACKBONE,
                "local_weights": _local_weights(name),
            }
            for name in by_family[key]
        ]
        out.append(
            {
                "family": key,
                "label": families.LABELS[key],
                "reference": key == families.DEFAULT_FAMILY,
                "names": names,
                "also": PATTERN_TEXT.get(key),
            }
        )
    return out


@app.command(
    "backbones",
    short_help="List the backbones the rule knows and their local weights.",
    epilog=example("vptadvisor backbones", "vptadvisor analyze ./my_dataset --backbone vit_base_patch16_224.mae"),
)
def backbones(output_format: o.OutputFormat = o.Format) -> None:
    """List the backbone families the verdict knows, the timm names (--backbone) that map to each, and
    whether their pretrained weights are found locally (nothing is downloaded).

    Any other timm name gives "too close to call" from the rule; the pilot trains any timm
    VisionTransformer with a class token."""
    rows = backbone_table()
    if output_format is o.OutputFormat.json:
        typer.echo(json.dumps({"families": rows}, indent=2))
        return
    lines = ["Backbone families of the published study (give one of the names as --backbone):"]
    for fam in rows:
        ref = "; the rule's default" if fam["reference"] else ""
        lines += ["", f"{fam['label']} ({fam['family']}{ref})"]
        for entry in fam["names"]:  # type: ignore[attr-defined]
            default = " (pilot default)" if entry["pilot_default"] else ""
            lines.append(f"  {entry['name']}{default}")
            weights = entry["local_weights"]
            found = weights if weights else "not found locally (downloaded on first use, or --weights PATH)"
            lines.append(f"    weights: {found}")
        if fam["also"]:
            lines.append(f"  also: {fam['also']}")
    lines += [
        "",
        'Other timm names: the rule says "too close to call" (no evidence for them);',
        "the pilot trains any timm VisionTransformer with a class token.",
    ]
    for line in lines:
        typer.echo(line)
