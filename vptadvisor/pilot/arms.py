"""The pilot's arms: what trains in each, its optimizer and its paper's hyper-parameter grid.

Grids (``../shared/study/hyperparameter_protocols.csv``), all as *base* learning rates (actual =
base * global_batch / 256, the protocols' scaling rule):

- ``vpt`` family (VPT protocol, Jia et al. 2022): SGD momentum 0.9, base lr {0.05 .. 50}, warm-up
  10 of 100 epochs. Used by vpt-deep, vpt-shallow, vapt (VAPT follows the VPT protocol), linear
  (the VPT paper's Linear baseline: "same as prompt grid") and the PT phase of ft-then-pt.
- ``ft`` family (VPT protocol, full fine-tuning): AdamW, base lr {0.0001 .. 0.005}, warm-up 5 of
  100 epochs. Used by ft and mixed (prompts and backbone train together under one optimizer).
- ``petl`` family (the unified PETL study, Mai et al.): AdamW, lr {0.001, 0.01} at batch 64, warm-up
  10 of 100 epochs; as base lrs (x 256/64) {0.004, 0.04}. Used by lora, adapter and bitfit.

Mixed and FT-then-PT are the Elephant paper's ablations (Han et al., ICLR 2024, Sec. 5.2):
*Mixed* tunes prompts and the whole backbone simultaneously; *FT-then-PT* first fully fine-tunes
the model and then prepends prompts and prompt-tunes with the fine-tuned backbone frozen. Here
the FT phase of ft-then-pt is the ft arm of the same run (so ft-then-pt needs ft in --arms and
starts when ft has finished); its PT phase is a vpt-deep arm on that backbone.
"""

from __future__ import annotations

from dataclasses import dataclass

ARMS = ("vpt-deep", "vpt-shallow", "vapt", "lora", "adapter", "bitfit", "linear", "ft", "mixed", "ft-then-pt")
DEFAULT_ARMS = ("vpt-deep", "ft")

LR_CANDIDATES = {
    # K = 4 and 2 at the quantiles (2i - 1) / 2K of the grid's log range, snapped to grid values; K = 1
    # the smaller of the K = 2 pair (docs/pilot.md). The PETL grid has two values: K = 2 is the grid,
    # K = 4 the log-quantiles of its range.
    "vpt": {4: [25.0, 5.0, 0.5, 0.1], 2: [10.0, 0.25], 1: [0.25]},
    "ft": {4: [0.005, 0.001, 0.0005, 0.0001], 2: [0.001, 0.0005], 1: [0.0005]},
    "petl": {4: [0.03, 0.017, 0.0095, 0.0053], 2: [0.04, 0.004], 1: [0.004]},
}
WARMUP_FRACTION = {"vpt": 10 / 100, "ft": 5 / 100, "petl": 10 / 100}
OPTIMIZER = {"vpt": "sgd", "ft": "adamw", "petl": "adamw"}
WEIGHT_DECAY = {"vpt": 1e-4, "ft": 1e-4, "petl": 1e-4}

LORA_RANK = 8  # the PETL study's LoRA default
ADAPTER_RANK = 8


@dataclass(frozen=True)
class ArmSpec:
    name: str
    family: str  # vpt | ft | petl
    prompts: str = "none"  # none | shallow | deep | adaptive
    backbone: str = "frozen"  # frozen | full | bias | lora | adapter
    after: str | None = None  # an arm whose final backbone this one starts from
    paper: str = ""

    @property
    def trains_backbone(self) -> bool:
        return self.backbone == "full"


SPECS = {
    s.name: s
    for s in (
        ArmSpec("vpt-deep", "vpt", prompts="deep", paper="VPT (Jia et al., ECCV 2022): deep prompts + head"),
        ArmSpec("vpt-shallow", "vpt", prompts="shallow", paper="VPT (Jia et al., ECCV 2022): input prompts + head"),
        ArmSpec("vapt", "vpt", prompts="adaptive", paper="VAPT (Le et al.): prompts as functions of the input"),
        ArmSpec("lora", "petl", backbone="lora", paper="LoRA (Hu et al.) on attention qkv/proj via peft"),
        ArmSpec("adapter", "petl", backbone="adapter", paper="bottleneck (rank-r) adapter on the FFN via peft"),
        ArmSpec("bitfit", "petl", backbone="bias", paper="BitFit (Ben Zaken et al.): biases + head"),
        ArmSpec("linear", "vpt", paper="linear probe: head on frozen features"),
        ArmSpec("ft", "ft", backbone="full", paper="full fine-tuning"),
        ArmSpec("mixed", "ft", prompts="deep", backbone="full", paper="Elephant 'Mixed': prompts + backbone"),
        ArmSpec("ft-then-pt", "vpt", prompts="deep", after="ft", paper="Elephant 'FT-then-PT'"),
    )
}


def spec(arm: str) -> ArmSpec:
    return SPECS[arm]


def family(arm: str) -> str:
    return SPECS[arm].family
