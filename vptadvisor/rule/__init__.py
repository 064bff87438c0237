"""The VPT-vs-FT decision rule: fitted from the study table, loaded by `analyze`.

    from vptadvisor.rule import load_rule
    pred = load_rule().predict(fid=152.2, p_high_disparity=0.05, n_train=960)
"""

from vptadvisor.rule.predict import OBJECTIVES, ObjectivePrior, Rule, RulePrediction, load_rule, objective_prior

__all__ = ["OBJECTIVES", "ObjectivePrior", "Rule", "RulePrediction", "load_rule", "objective_prior"]
