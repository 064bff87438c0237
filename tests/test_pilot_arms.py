"""The arms of pilot 2.0: trainable parameters against each paper's formula, what trains, VAPT's
input-adaptive prompts, peft's LoRA starting at the pretrained model, and the arm halving."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from test_pilot_helpers import TINY_IMG, TINY_KWARGS, TINY_NAME, VITS_WEIGHTS

from vptadvisor.pilot.adapters import lora_params
from vptadvisor.pilot.arms import ARMS, LR_CANDIDATES, spec
from vptadvisor.pilot.complement import complementarity, ranking
from vptadvisor.pilot.engine import default_prompt_length, make_model
from vptadvisor.pilot.halving import compare_round
from vptadvisor.pilot.state import ArmState, Best
from vptadvisor.pilot.vapt import VAPTViT, vapt_params_per_block


def tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model(TINY_NAME, pretrained=False, num_classes=0, img_size=TINY_IMG, **TINY_KWARGS).eval()


def trainable(m: torch.nn.Module) -> dict[str, int]:
    return {n: p.numel() for n, p in m.named_parameters() if p.requires_grad}


def expected(arm: str, bb: torch.nn.Module, c: int) -> int:
    """Each paper's formula, written independently of the pilot's own count."""
    d, depth, n_patches = bb.embed_dim, len(bb.blocks), int(np.prod(bb.patch_embed.grid_size))
    head = d * c + c
    length = default_prompt_length(arm)
    if arm in ("vpt-deep", "ft-then-pt"):
        return depth * length * d + head
    if arm == "vpt-shallow":
        return length * d + head
    if arm == "vapt":  # F^2 + L*N + (r*D + r) + (D*r + D) per block
        return depth * (3 * 3 + length * n_patches + 16 * d + 16 + d * 16 + d) + head
    if arm == "lora":  # r (d_in + d_out) for qkv (D -> 3D) and proj (D -> D)
        return depth * 8 * ((d + 3 * d) + (d + d)) + head
    if arm == "adapter":  # fc1 (D -> 4D), fc2 (4D -> D)
        return depth * 8 * ((d + 4 * d) + (4 * d + d)) + head
    if arm == "bitfit":
        return sum(p.numel() for n, p in bb.named_parameters() if n.endswith(".bias")) + head
    if arm == "linear":
        return head
    full = sum(p.numel() for p in bb.parameters())
    return full + head + (depth * length * d if arm == "mixed" else 0)


@pytest.mark.parametrize("arm", ARMS)
def test_trainable_parameters_match_the_papers_formulas(arm):
    bb = tiny()
    m = make_model(arm, bb, 5, default_prompt_length(arm), 0)
    assert sum(trainable(m).values()) == expected(arm, bb, 5)


@pytest.mark.slow
@pytest.mark.skipif(not VITS_WEIGHTS.is_file(), reason="needs ../shared/weights (ViT-S/14)")
def test_real_vit_s14_counts_at_112px():
    from vptadvisor.backbone import create_backbone

    bb, _ = create_backbone("vit_small_patch14_dinov2", str(VITS_WEIGHTS), img_size=112)
    for arm in ("lora", "adapter", "vapt", "vpt-deep", "bitfit"):
        m = make_model(arm, bb, 10, default_prompt_length(arm), 0)
        assert sum(trainable(m).values()) == expected(arm, bb, 10), arm
    assert lora_params(bb, "lora", 8) == 12 * 8 * 6 * 384 == 221184


def test_what_trains_in_each_arm():
    bb = tiny()
    names = {arm: set(trainable(make_model(arm, bb, 3, default_prompt_length(arm), 0))) for arm in ARMS}
    assert names["linear"] == {"head.weight", "head.bias"}
    assert all(n.endswith("bias") or n.startswith("head.") for n in names["bitfit"])
    assert all(".lora_" in n or n.startswith("head.") for n in names["lora"] | names["adapter"])
    assert any(".attn.qkv.lora_A" in n for n in names["lora"]) and not any(".mlp." in n for n in names["lora"])
    assert any(".mlp.fc1.lora_A" in n for n in names["adapter"]) and not any(".attn." in n for n in names["adapter"])
    assert not any("patch_embed" in n for n in names["lora"])  # only the attention linears
    assert "prompts" in names["mixed"] and "backbone.blocks.0.attn.qkv.weight" in names["mixed"]
    assert all(n.startswith("generators.") or n.startswith("head.") for n in names["vapt"])
    assert LR_CANDIDATES[spec("lora").family][2] == [0.04, 0.004]  # the PETL grid {1e-3, 1e-2} at batch 64


def test_peft_arms_start_at_the_pretrained_model_and_leave_the_shared_backbone_alone():
    bb = tiny()
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    before = {k: v.clone() for k, v in bb.state_dict().items()}
    lin, lora = make_model("linear", bb, 3, 0, 0).eval(), make_model("lora", bb, 3, 0, 0).eval()
    torch.testing.assert_close(lora(x), lin(x))  # B = 0: LoRA starts as the frozen model
    assert type(bb.blocks[0].attn.qkv) is torch.nn.Linear  # injected into a copy
    assert all(torch.equal(before[k], v) for k, v in bb.state_dict().items())


def test_vapt_prompts_are_functions_of_the_input():
    bb = tiny()
    m = VAPTViT(bb, 3, length=4, kernel=3, rank=5, seed=0).eval()
    n = int(np.prod(bb.patch_embed.grid_size))
    assert sum(p.numel() for p in m.generators[0].parameters()) == vapt_params_per_block(4, n, 32, 3, 5)
    a, b = torch.randn(1, n, 32), torch.randn(1, n, 32)
    pa, pb = m.block_prompts(0, a, 1), m.block_prompts(0, b, 1)
    assert pa.shape == (1, 4, 32) and not torch.allclose(pa, pb)
    assert not torch.allclose(pa[0, 0], pa[0, 1])  # the prompts are not interchangeable
    y = m(torch.randn(2, 3, TINY_IMG, TINY_IMG))
    y.sum().backward()
    assert m.generators[1].alpha.grad is not None and m.generators[1].conv.grad is not None


def _arm(name: str, preds: np.ndarray, used: float = 10.0, share: float = 30.0, phase: str = "final") -> ArmState:
    probs = np.eye(max(3, int(preds.max()) + 1))[preds].tolist()
    return ArmState(
        name=name,
        phase=phase,
        used=used,
        share=share,
        best=Best(accuracy=0.0, step=1, preds=preds.tolist(), probs=probs),
    )


def test_arm_halving_stops_only_arms_clearly_behind_and_gives_their_time_to_the_rest():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    good = y.copy()
    good[-4:] = (y[-4:] + 1) % 3
    close = y.copy()
    close[:6] = (y[:6] + 1) % 3
    bad = y.copy()
    bad[:80] = (y[:80] + 1) % 3
    arms = {"vpt-deep": _arm("vpt-deep", good), "lora": _arm("lora", close), "linear": _arm("linear", bad)}
    for a in arms.values():
        a.best.accuracy = float(np.mean(np.asarray(a.best.preds) == y))
    total = sum(a.share for a in arms.values())
    rnd = compare_round(arms, y, 1, 123.0, 0, budgeted=True)
    assert rnd.leader == "vpt-deep" and rnd.stopped == ["linear"]
    assert arms["linear"].phase == "stopped" and "behind vpt-deep" in arms["linear"].stopped.reason
    assert arms["linear"].stopped.round == 1 and arms["linear"].share == arms["linear"].used
    assert sum(a.share for a in arms.values()) == pytest.approx(total)  # the budget is conserved
    assert arms["lora"].share == pytest.approx(30 + 10) and arms["lora"].phase == "final"


def test_complementarity_names_an_ensemble_only_beyond_noise():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    arms = {}
    for k, name in enumerate(("vpt-deep", "lora", "ft")):  # each wrong on a different third
        p = y.copy()
        sl = slice(100 * k, 100 * k + 60)
        p[sl] = (y[sl] + 1) % 4
        arms[name] = _arm(name, p)
        arms[name].best.probs = (0.6 * np.eye(4)[p] + 0.4 * np.eye(4)[y] * 0.9 + 0.01).tolist()
    c = complementarity(arms, y, 0)
    assert set(c["disagreement"]) == {"vpt-deep+lora", "vpt-deep+ft", "lora+ft"}
    assert c["error_overlap"]["vpt-deep+lora"] == 0.0
    e = c["ensemble"]
    assert e["val_accuracy"] == 1.0 and e["beats_best_arm"] and e["ci"][0] < 1.0
    same = {n: _arm(n, y.copy()) for n in ("vpt-deep", "ft")}
    assert not complementarity(same, y, 0)["ensemble"]["beats_best_arm"]


def test_ranking_per_byte_prefers_the_smallest_arm_not_clearly_worse():
    from types import SimpleNamespace as NS

    y = np.arange(100) % 5
    worse = y.copy()
    worse[:40] = (y[:40] + 1) % 5
    arms = {
        "ft": NS(val_accuracy=1.0, bytes_per_task=88_000_000),
        "lora": NS(val_accuracy=1.0, bytes_per_task=900_000),
        "linear": NS(val_accuracy=0.6, bytes_per_task=15_000),
    }
    r = ranking(arms, y, {"ft": y.tolist(), "lora": y.tolist(), "linear": worse.tolist()}, 0)
    assert r["best_per_byte"] == "lora" and r["arms"][0]["arm"] == "linear"
    assert next(a for a in r["arms"] if a["arm"] == "linear")["clearly_worse"]
