"""Pilot runs: short, fair, time-budgeted VPT and full fine-tuning on the user's own data.

    from vptadvisor.pilot import run_pilot
    result = run_pilot("./my_dataset", budget="30m", arms=["vpt-deep", "ft"])
    result.difference.margin, result.verdict.choice

See docs/pilot.md for the method and the JSON contract.
"""

from vptadvisor.pilot.arms import ARMS, DEFAULT_ARMS
from vptadvisor.pilot.budget import parse_budget
from vptadvisor.pilot.export import load_pilot_model
from vptadvisor.pilot.result import ArmResult, Difference, PilotResult, Verdict
from vptadvisor.pilot.runner import PilotInterrupted, run_pilot
from vptadvisor.pilot.stats import Prior, load_prior, prior_from_verdict
from vptadvisor.pilot.vpt import PromptedViT, prompt_init_bound

__all__ = [
    "ARMS",
    "DEFAULT_ARMS",
    "ArmResult",
    "Difference",
    "PilotInterrupted",
    "PilotResult",
    "Prior",
    "PromptedViT",
    "Verdict",
    "load_pilot_model",
    "load_prior",
    "parse_budget",
    "prior_from_verdict",
    "prompt_init_bound",
    "run_pilot",
]
