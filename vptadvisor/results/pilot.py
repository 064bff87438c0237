"""The pilot's result: typed models with exactly the fields of result.json (`vptadvisor.pilot/2`).

Contract (docs/pilot.md): ``arms`` {name: {val_accuracy, val_accuracy_interval, trainable_params,
peak_memory_bytes, seconds}}, ``budget_seconds``, ``elapsed_seconds``, ``difference`` {margin,
interval, mcnemar_p}, ``verdict`` {choice, p_vpt, confirms_rule}; everything else is extra.
Here rather than in vptadvisor/pilot/ so that reading a result (the report, `check --pilot`) needs no torch.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import ConfigDict, Field

from vptadvisor.results.block import Block

SCHEMA = "vptadvisor.pilot/2"
BYTES_PER_PARAM = 4  # float32, as the pilot saves them


class Candidate(Block):
    base_lr: float
    lr: float
    status: str  # winner | dropped | diverged | alive
    steps: int
    scores: list[float]  # mean pre-update loss per rung survived
    reason: Optional[str]
    losses: list[float]  # pre-update training loss of every step it trained


class ArmResult(Block):
    name: str
    val_accuracy: Optional[float]  # best over the evaluations of the continued training
    val_accuracy_interval: Optional[list[float]]  # Wilson 95 %
    trainable_params: int
    peak_memory_bytes: int
    seconds: float
    status: str  # ok | truncated | stopped | failed | skipped (share too short for a step and an evaluation)
    bytes_per_task: int  # what a task stores beside the shared pretrained backbone (float32)
    stored_params: int
    paper_params: int  # trainable parameters by the arm's paper formula
    paper_formula: str
    stopped: Optional[dict[str, Any]]  # arm halving: round, elapsed_seconds, arm_seconds, reason
    total_params: int
    trainable_fraction: float
    final_val_accuracy: Optional[float]
    best_step: Optional[int]
    steps: int
    epochs: float
    share_seconds: Optional[float]
    seconds_breakdown: dict[str, float]
    images_per_second: Optional[float]
    eval_images_per_second: Optional[float]
    memory_method: Optional[str]
    memory_baseline_bytes: int
    lr: Optional[float]
    base_lr: Optional[float]
    prompt_length: int
    plan: dict[str, Any]
    candidates: list[Candidate]
    curve: dict[str, list[list[float]]]  # train: [step, loss], val: [step, seconds, accuracy]
    weights_file: Optional[str]
    steps_by_session: dict[str, int]  # training steps run in each session (resumed runs have several)
    notes: list[str] = Field(default_factory=list)


class Difference(Block):
    vpt_arm: str
    ft_arm: str
    margin: float  # accuracy(vpt_arm) - accuracy(ft_arm), fraction
    interval: list[float]  # paired bootstrap 95 %
    mcnemar_p: float
    se: float
    n_val: int
    discordant: dict[str, int]
    bootstrap_samples: int


class Verdict(Block):
    choice: str  # vpt | ft | uncertain (the rule's thresholds, see pilot/stats.combine)
    p_vpt: float
    confirms_rule: Optional[bool]
    rule_choice: Optional[str]
    posterior_margin: float
    posterior_sd: float
    posterior_interval: list[float]
    source: str
    prior: Optional[dict[str, Any]]
    measured: dict[str, Any]


class PilotResult(Block):
    arms: dict[str, ArmResult]
    budget_seconds: Optional[float]
    elapsed_seconds: float
    difference: Optional[Difference]
    verdict: Optional[Verdict]
    schema_: str = Field(SCHEMA, alias="schema")
    dataset: str
    backbone: str
    weights: str
    device: str
    world_size: int
    img_size: int
    batch_size: int
    seed: int
    split: dict[str, Any]
    setup_seconds: float
    sessions: int
    run_dir: str
    curves_png: Optional[str]
    notes: list[str]
    halving: list[dict[str, Any]] = Field(default_factory=list)  # one entry per comparison round
    complementarity: Optional[dict[str, Any]] = None
    ranking: Optional[dict[str, Any]] = None

    model_config = ConfigDict(populate_by_name=True)  # merged with Block's

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="python", by_alias=True)
