"""VPT-shallow / VPT-deep on timm ViTs: token layout, what trains, equivalence with the frozen model."""

from __future__ import annotations

import math

import pytest
import timm
import torch
from test_pilot_helpers import VITS_WEIGHTS

from vptadvisor.errors import UsageError
from vptadvisor.pilot.vpt import PromptedViT, prompt_init_bound

TINY = dict(patch_size=8, embed_dim=32, depth=3, num_heads=2, img_size=32, num_classes=0)


def tiny(**over) -> torch.nn.Module:
    torch.manual_seed(0)
    kwargs = dict(TINY)
    kwargs.update(over)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, **kwargs).eval()


def block_inputs(model: PromptedViT, x: torch.Tensor) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    hooks = [
        b.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
        for b in model.backbone.blocks
    ]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return seen


def frozen_block0_input(backbone: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    seen = []
    h = backbone.blocks[0].register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    try:
        backbone.forward_features(x)
    finally:
        h.remove()
    return seen[0]


def test_prompt_init_bound_is_xavier_uniform_of_a_patch_embedding():
    assert prompt_init_bound(16, 768) == pytest.approx(0.0625)  # sqrt(6 / (3*16*16 + 768))
    assert prompt_init_bound((14, 14), 384) == pytest.approx(math.sqrt(6 / 972))
    model = PromptedViT(tiny(), 5, prompt_length=50, deep=True, seed=3)
    bound = prompt_init_bound(8, 32)
    p = model.prompts.detach()
    assert p.shape == (3, 50, 32)
    assert p.abs().max() <= bound and p.abs().max() > 0.9 * bound
    assert p.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)  # uniform on [-a, a]
    again = PromptedViT(tiny(), 5, prompt_length=50, deep=True, seed=3).prompts.detach()
    assert torch.equal(p, again)


@pytest.mark.parametrize(
    "over", [{}, {"reg_tokens": 2, "no_embed_class": True}, {"pre_norm": True}, {"dynamic_img_size": True}]
)
def test_token_layout_prompts_after_prefix_tokens_without_position_embedding(over):
    backbone = tiny(**over)
    n_prefix = backbone.num_prefix_tokens
    x = torch.randn(2, 3, 32, 32)
    own = frozen_block0_input(backbone, x)
    n_patches = own.shape[1] - n_prefix
    length = 4
    deep = PromptedViT(backbone, 3, prompt_length=length, deep=True, prompt_dropout=0.1).eval()
    seen = block_inputs(deep, x)
    for i, t in enumerate(seen):
        assert t.shape == (2, n_prefix + length + n_patches, 32)
        # block i sees exactly its own prompts (no position embedding added), after CLS/REG
        assert torch.equal(t[:, n_prefix : n_prefix + length], deep.prompts[i].expand(2, -1, -1))
    # block 1's prefix and patch tokens are timm's own embedding (class token, pos embed, norm_pre)
    assert torch.allclose(seen[0][:, :n_prefix], own[:, :n_prefix])
    assert torch.allclose(seen[0][:, n_prefix + length :], own[:, n_prefix:])

    shallow = PromptedViT(backbone, 3, prompt_length=length, deep=False).eval()
    seen = block_inputs(shallow, x)
    assert torch.equal(seen[0][:, n_prefix : n_prefix + length], shallow.prompts[0].expand(2, -1, -1))
    # shallow: later blocks see the previous block's outputs at the prompt positions
    assert not torch.allclose(seen[1][:, n_prefix : n_prefix + length], shallow.prompts[0].expand(2, -1, -1))
    assert shallow.prompts.shape[0] == 1


@pytest.mark.parametrize("deep", [True, False])
def test_only_prompts_and_head_receive_gradients_and_backbone_stays_eval(deep):
    backbone = tiny(drop_rate=0.5, attn_drop_rate=0.5, drop_path_rate=0.5)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    model = PromptedViT(backbone, 3, prompt_length=5, deep=deep, prompt_dropout=0.1)
    model.train()
    assert model.training and not any(m.training for m in model.backbone.modules())
    opt = torch.optim.SGD(model.trainable_parameters(), lr=1.0, momentum=0.9)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    assert model.prompts.grad is not None and model.prompts.grad.abs().sum() > 0
    assert model.head.weight.grad is not None and model.head.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.backbone.state_dict().items())
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names == {"prompts", "head.weight", "head.bias"}
    assert set(model.trainable_state()) == names


def test_full_fine_tuning_trains_everything():
    model = PromptedViT(tiny(), 3, train_backbone=True)
    model.train()
    assert model.backbone.training
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("over", [{}, {"global_pool": "avg"}, {"reg_tokens": 3}, {"pre_norm": True, "fc_norm": True}])
def test_zero_prompts_give_the_frozen_models_features(over):
    backbone = tiny(**over)
    x = torch.randn(3, 3, 32, 32)
    model = PromptedViT(backbone, 4, prompt_length=0).eval()
    with torch.no_grad():
        ours = model.features(x)
        theirs = backbone.fc_norm(backbone.forward_features(x)[:, 0])
        assert torch.allclose(ours, theirs, atol=1e-6)
        if backbone.global_pool == "token":
            assert torch.allclose(ours, backbone.forward_head(backbone.forward_features(x), pre_logits=True), atol=1e-6)
        # and prompts do change them (the comparison above can fail)
        prompted = PromptedViT(backbone, 4, prompt_length=3, deep=True).eval().features(x)
        assert not torch.allclose(prompted, theirs, atol=1e-4)


def test_dropout_masks_do_not_depend_on_how_the_batch_is_split():
    model = PromptedViT(tiny(), 3, prompt_length=6, deep=True, prompt_dropout=0.3).train()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        model.set_dropout_masks(seed=11, offset=0, global_batch=4)
        whole = model(x)
        model.set_dropout_masks(seed=11, offset=0, global_batch=4)
        first = model(x[:2])
        model.set_dropout_masks(seed=11, offset=2, global_batch=4)
        second = model(x[2:])
        model.set_dropout_masks(seed=12, offset=0, global_batch=4)
        other = model(x)
        model.eval()
        plain = model(x)
    assert torch.allclose(torch.cat([first, second]), whole, atol=1e-6)
    assert not torch.allclose(other, whole, atol=1e-4)
    assert not torch.allclose(plain, whole, atol=1e-4)


def test_a_vit_without_class_token_is_refused():
    backbone = tiny(class_token=False, global_pool="avg")
    with pytest.raises(UsageError, match="class token"):
        PromptedViT(backbone, 3, prompt_length=2)


def test_vit_b16_augreg_in21k_architecture_builds_offline_and_runs():
    torch.manual_seed(0)
    backbone = timm.create_model("vit_base_patch16_224.augreg_in21k", pretrained=False, num_classes=0).eval()
    model = PromptedViT(backbone, 10, prompt_length=10, deep=True).eval()
    seen = block_inputs(model, torch.randn(1, 3, 224, 224))
    assert len(seen) == 12 and seen[0].shape == (1, 1 + 10 + 196, 768)
    trainable = sum(p.numel() for p in model.trainable_parameters())
    assert trainable == 12 * 10 * 768 + 768 * 10 + 10
    assert trainable / sum(p.numel() for p in model.parameters()) < 0.01


def test_real_vit_s14_zero_prompts_match_and_deep_prompts_run(shared):
    from vptadvisor.backbone import create_backbone

    backbone, info = create_backbone("vit_small_patch14_dinov2", VITS_WEIGHTS, img_size=224)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        plain = PromptedViT(backbone, 10).eval().features(x)
        assert torch.allclose(plain, backbone.forward_head(backbone.forward_features(x), pre_logits=True), atol=1e-5)
        model = PromptedViT(backbone, 10, prompt_length=10, deep=True).eval()
        assert model(x).shape == (1, 10)
    trainable = sum(p.numel() for p in model.trainable_parameters())
    assert trainable == 12 * 10 * 384 + 384 * 10 + 10 and trainable / info.num_params < 0.01
