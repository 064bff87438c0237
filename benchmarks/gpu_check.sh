#!/usr/bin/env bash
# One short check on a CUDA machine (about 6 minutes on one GPU; at most 8):
#   1. analyze, cold cache, exact (torch, TF32 off): img/s and FID
#   2. analyze, cold cache, --precision bf16: img/s, FID and its deviation from exact
#   3. a 3-minute pilot (vpt-deep vs ft) on CUDA: train img/s per arm, the measured margin and verdict
#
#   bash benchmarks/gpu_check.sh [DATASET]          (default: ../shared/datasets/dtd-10)
#
# The pilot's backbone comes from timm's pretrained path (Hugging Face hub) when the machine is
# online; offline, set PILOT_ARGS, e.g.
#   PILOT_ARGS="--backbone vit_small_patch14_dinov2 --weights ../shared/weights/vit_small_patch14_dinov2.imgfocus.f16.safetensors --backbone-kwargs {\"img_size\":224}"
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/datasets/dtd-10}"
WORK="$(mktemp -d /tmp/vpt-gpu-check.XXXXXX)"
PY="${PYTHON:-python}"
echo "work dir $WORK; dataset $DATA"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'device', torch.cuda.get_device_name(0))"

analyze() {  # $1: label, rest: extra options
  local label="$1"; shift
  local start end
  start=$(date +%s.%N)
  VPTADVISOR_CACHE_DIR="$WORK/cache-$label" timeout 240 "$PY" -m vptadvisor analyze "$DATA" --device cuda \
    --format json --quiet "$@" > "$WORK/$label.json"
  end=$(date +%s.%N)
  "$PY" - "$WORK/$label.json" "$start" "$end" "$label" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1])); wall = float(sys.argv[3]) - float(sys.argv[2])
n, t = d["dataset"]["n_images"], d["timing"]
print(f"analyze {sys.argv[4]:6s}: {d['distance']['engine']}, {n} images, {wall:.1f} s wall, "
      f"{n / t['feature_seconds']:.1f} img/s features, FID {d['distance']['fid']:.4f}, "
      f"FID@1000 {d['distance']['fid_matched']['value']:.2f}, verdict {d['verdict']['choice']} (P(VPT) {d['verdict']['p_vpt']:.2f})")
PYEOF
}

analyze exact
analyze bf16 --precision bf16
"$PY" - "$WORK/exact.json" "$WORK/bf16.json" <<'PYEOF'
import json, sys
a, b = (json.load(open(p))["distance"]["fid"] for p in sys.argv[1:3])
print(f"bf16 FID deviation from exact: {100 * (b - a) / a:+.3f} %")
PYEOF

# shellcheck disable=SC2086
timeout 300 "$PY" -m vptadvisor pilot "$DATA" --budget 3m --device cuda --format json --quiet \
  --out "$WORK/pilot" --analysis "$WORK/exact.json" ${PILOT_ARGS:-} > "$WORK/pilot.json" || {
  echo "pilot failed (exit $?); see above"; exit 1; }
"$PY" - "$WORK/pilot.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"pilot: device {d['device']}, backbone {d['backbone']} ({d['weights']}), {d['elapsed_seconds']:.0f} s")
for name, arm in d["arms"].items():
    print(f"  arm {name}: val acc {arm['val_accuracy']}, train {arm['images_per_second']} img/s, "
          f"eval {arm['eval_images_per_second']} img/s, {arm['steps']} steps, status {arm['status']}")
diff, verdict = d.get("difference") or {}, d.get("verdict") or {}
print(f"  margin {diff.get('margin')} interval {diff.get('interval')}; verdict {verdict.get('choice')} "
      f"(P(VPT better) {verdict.get('p_vpt')})")
PYEOF
echo "done; outputs in $WORK"
