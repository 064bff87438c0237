"""vptadvisor from Python: analyze a dataset, gate on the verdict, write the report, and settle a
close call with a short pilot. Run by tests/test_api_example.py.

    python docs/examples/api_example.py ./my_dataset ['{"budget": "30m"}']

The optional second argument holds the pilot's settings as JSON (the fields of
vptadvisor.settings.PilotSettings: budget or steps, backbone, weights, ...).
"""

import json
import sys

from vptadvisor import analyze, pilot, prior_from_verdict
from vptadvisor.gate import evaluate_gate
from vptadvisor.report import write_report

dataset = sys.argv[1]
pilot_settings = {"budget": "30m", **(json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})}

# 1. The verdict: a typed AnalyzeResult with the same fields as `vptadvisor analyze --format json`.
result = analyze(dataset, objective="classification", backbone=pilot_settings.get("backbone"))
v = result.verdict
print(
    f"FID {result.distance.fid:.1f}; verdict {v.choice}: P(VPT better) {v.p_vpt:.2f}, "
    f"margin {v.margin:+.1f} points [{v.margin_interval[0]:+.1f}, {v.margin_interval[1]:+.1f}]"
)
assert result.to_dict()["verdict"]["p_vpt"] == v.p_vpt

# 2. Too close to call? Measure both methods on the data; the rule's prediction is the prior.
run = None
if v.choice == "uncertain":
    run = pilot(dataset, prior=prior_from_verdict(v), **pilot_settings)  # a typed PilotResult
    print(
        f"pilot: {run.verdict.choice}, P(VPT better) {run.verdict.p_vpt:.2f} "
        f"({run.difference.vpt_arm} - ft = {100 * run.difference.margin:+.1f} points)"
    )

# 3. The gate `vptadvisor check` applies, and the report with the decision map.
gate = evaluate_gate(result, expect="vpt", min_confidence=0.7, pilot=run)
print(gate.reason)
print("report:", write_report("report.html", result, gate=gate, pilot=run, pilot_ran=run is not None))
