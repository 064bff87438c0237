"""The pilot's typed, checkpointed state: RunState > ArmState > Candidate (pydantic v2).

Everything a killed run needs to continue lives here and is written atomically to
``RUN_DIR/checkpoint/state.json`` (tensors live in the files the state names). A resume validates
the file against these models and its ``version`` against STATE_VERSION; anything else is a
UsageError (exit 2) naming the field, never a traceback.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vptadvisor.errors import UsageError

STATE_VERSION = 2

Phase = Literal["new", "search", "final", "done", "failed", "stopped"]
CandStatus = Literal["alive", "winner", "dropped", "diverged"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Candidate(_Model):
    """One learning rate of an arm's search."""

    index: int
    base_lr: float
    lr: float
    status: CandStatus = "alive"
    steps: int = 0
    losses: list[float] = Field(default_factory=list)  # pre-update loss of every step trained
    scores: list[float] = Field(default_factory=list)  # mean pre-update loss per rung survived
    reason: str | None = None
    file: str | None = None  # checkpoint/<file>: trainable state + optimizer at `steps`


class Eval(_Model):
    step: int
    seconds: float
    accuracy: float


class Best(_Model):
    """The arm's best evaluation: predictions and class probabilities on the shared val split."""

    accuracy: float
    step: int
    preds: list[int]
    probs: list[list[float]]
    file: str | None = None  # trainable state at that step (frozen-backbone arms)


class Stop(_Model):
    """Why and when the arm halving stopped an arm."""

    round: int
    elapsed_seconds: float  # of the whole pilot
    arm_seconds: float
    reason: str


class Plan(_Model):
    base_lrs: list[float]
    rungs: list[int]
    horizon: int
    warmup: int
    n_evals: int


class ArmState(_Model):
    name: str
    phase: Phase = "new"
    share: float | None = None  # seconds this arm may use in all (grows when other arms stop)
    used: float = 0.0
    round_limit: float | None = None  # pause (and be compared) when `used` reaches it
    plan: Plan | None = None
    t_step: float | None = None
    t_eval: float | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    rung: int = 0
    rung_target: int | None = None
    queue: list[int] = Field(default_factory=list)
    winner: int | None = None
    progress: float = 0.0
    final_start: float = 0.0
    final_evals: int | None = None
    evals: list[Eval] = Field(default_factory=list)
    best: Best | None = None
    truncated: bool = False
    final_reason: str | None = None
    stopped: Stop | None = None
    notes: list[str] = Field(default_factory=list)
    time: dict[str, float] = Field(
        default_factory=lambda: dict.fromkeys(("calibration", "search", "train", "eval", "checkpoint"), 0.0)
    )
    train_images: int = 0
    train_seconds: float = 0.0
    eval_images: int = 0
    eval_seconds: float = 0.0
    peak_memory_bytes: int = 0
    baseline_bytes: int = 0
    memory_method: str | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    stored_params: int | None = None  # parameters a task must store beside the shared backbone
    paper_params: int | None = None  # the same count from the arm's paper formula
    paper_formula: str | None = None
    prompt_length: int = 0
    steps_by_session: dict[str, int] = Field(default_factory=dict)
    weights_file: str | None = None
    final_file: str | None = None  # checkpoint of the full final model (ft, for ft-then-pt and WiSE-FT)

    @property
    def finished(self) -> bool:
        return self.phase in ("done", "failed", "stopped")


class Session(_Model):
    started: str
    world_size: int
    device: str
    threads: int


class HalvingRound(_Model):
    """One comparison of the arm halving: who led, who stopped, and when."""

    round: int
    elapsed_seconds: float
    leader: str | None
    accuracies: dict[str, float]
    stopped: list[str]


class RunState(_Model):
    version: int = STATE_VERSION
    elapsed: float = 0.0
    setup_seconds: float = 0.0
    readout_scale: float | None = None
    sessions: list[Session] = Field(default_factory=list)
    arms: dict[str, ArmState] = Field(default_factory=dict)
    round: int = 0
    rounds: list[HalvingRound] = Field(default_factory=list)


def _first_error(exc: ValidationError, prefix: str = "") -> str:
    err = exc.errors()[0]
    where = (
        prefix + ".".join(str(p) for p in err.get("loc", ())) if err.get("loc") else prefix.rstrip(".") or "(top level)"
    )
    return f"{where}: {err.get('msg', 'invalid')}"


def load_state(data: object, where: str) -> RunState:
    """Validate a state.json mapping; a wrong version or shape is a UsageError naming the field."""
    if isinstance(data, dict) and data.get("version") != STATE_VERSION:
        raise UsageError(
            f"{where} has state version {data.get('version')!r}, this vptadvisor writes "
            f"{STATE_VERSION}: finish the run with the version that started it, or start a new run."
        )
    try:
        return RunState.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{where} is damaged or was edited ({_first_error(exc)}): start a new run.") from None


def validate(model: type[BaseModel], data: object, where: str, prefix: str = "") -> BaseModel:
    """Validate `data` against `model`; errors are a UsageError naming the first bad field
    (`prefix` + its path)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{where} is damaged or was edited ({_first_error(exc, prefix)}): start a new run.") from None
