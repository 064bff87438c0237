"""The VPT-vs-FT decision rule: fitted from the study table, loaded by `analyze`.

from vptadvisor.rule import load_rule
pred = load_rule().predict(fid=152.2, p_high_disparity=0.05, n_train=960)
"""

from typing import Any

__all__ = ["OBJECTIVES", "ObjectivePrior", "Rule", "RulePrediction", "load_rule", "objective_prior"]


def __getattr__(name: str) -> Any:  # lazy: `vptadvisor.rule.model` imports without the verdict machinery
    if name in __all__:
        from vptadvisor.rule import predict

        return getattr(predict, name)
    raise AttributeError(name)
