"""The typed pilot state and what --resume refuses: tampered files, pickled checkpoints, another
state version, a changed dataset; and the run directory never lands inside the dataset."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest
import torch
from test_pilot_helpers import (
    TINY_IMG,
    TINY_KWARGS,
    TINY_NAME,
    make_dataset,
    make_tiny_weights,
)

from vptadvisor.errors import UsageError
from vptadvisor.pilot import PilotInterrupted, run_pilot
from vptadvisor.pilot.options import run_directory
from vptadvisor.pilot.state import STATE_VERSION, ArmState, RunState, load_state


class Payload:
    """Stands in for code hidden in a pickle: it must never be unpickled."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.fixture()
def interrupted(tmp_path):
    """A run directory holding an interrupted run (Ctrl-C right after the backbone loaded)."""
    data = make_dataset(tmp_path / "data", n_classes=3, per_class=8)
    weights = make_tiny_weights(tmp_path / "tiny.safetensors")
    run = tmp_path / "run"
    sent = []

    def progress(msg: str) -> None:
        if "lr candidates" in msg and not sent:
            sent.append(msg)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(PilotInterrupted):
        run_pilot(
            data,
            steps=6,
            arms="vpt-deep,ft",
            backbone=TINY_NAME,
            weights=weights,
            backbone_kwargs=TINY_KWARGS,
            img_size=TINY_IMG,
            batch_size=8,
            device="cpu",
            threads=1,
            run_dir=run,
            progress=progress,
        )
    assert (run / "checkpoint" / "state.json").is_file()
    return data, run


def edit(path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_state_round_trips_and_is_versioned():
    st = RunState(arms={"vpt-deep": ArmState(name="vpt-deep")})
    again = load_state(json.loads(json.dumps(st.model_dump(mode="json"))), "state.json")
    assert again == st and again.version == STATE_VERSION
    with pytest.raises(UsageError, match="state version 1"):
        load_state({**st.model_dump(mode="json"), "version": 1}, "state.json")
    with pytest.raises(UsageError, match=r"arms\.vpt-deep\.used"):
        bad = st.model_dump(mode="json")
        bad["arms"]["vpt-deep"]["used"] = "soon"
        load_state(bad, "state.json")


def test_resume_continues_an_interrupted_run(interrupted):
    _, run = interrupted
    r = run_pilot(resume=run, device="cpu", threads=1)
    assert r.sessions == 2 and all(a.steps >= 1 for a in r.arms.values())


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda c: c["options"].update(batch_size="eight"), r"options\.batch_size"),
        (lambda c: c["options"].update(surprise=1), r"options\.surprise"),
        (lambda c: c.pop("split"), "no split"),
    ],
)
def test_a_tampered_config_is_refused(interrupted, change, match):
    _, run = interrupted
    edit(run / "config.json", change)
    with pytest.raises(UsageError, match=match):
        run_pilot(resume=run, device="cpu")


def test_a_tampered_state_is_refused(interrupted):
    _, run = interrupted
    edit(run / "checkpoint" / "state.json", lambda s: s["arms"]["vpt-deep"].update(phase="winning"))
    with pytest.raises(UsageError, match=r"arms\.vpt-deep\.phase"):
        run_pilot(resume=run, device="cpu")
    edit(run / "checkpoint" / "state.json", lambda s: s.update(version=99))
    with pytest.raises(UsageError, match="state version 99"):
        run_pilot(resume=run, device="cpu")


def test_a_pickled_checkpoint_is_refused_without_running_it(interrupted):
    _, run = interrupted
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    name = state["arms"]["vpt-deep"]["candidates"][0]["file"]
    assert name
    torch.save({"model": Payload()}, run / "checkpoint" / name)
    with pytest.raises(UsageError) as err:
        run_pilot(resume=run, device="cpu", threads=1)
    assert "not a tensor checkpoint" in str(err.value) and "weights_only" not in str(err.value)


def test_resume_stops_when_the_dataset_changed(interrupted):
    data, run = interrupted
    shutil.copy(data / "class_0" / "img_000.png", data / "class_1" / "new.png")
    with pytest.raises(UsageError, match=r"changed since the run started \(1 image\(s\) added"):
        run_pilot(resume=run, device="cpu")
    (data / "class_1" / "new.png").unlink()
    shutil.copytree(data / "class_2", data / "class_9")
    with pytest.raises(UsageError, match="classes added: class_9"):
        run_pilot(resume=run, device="cpu")


def test_the_run_directory_is_never_inside_the_dataset(tmp_path, monkeypatch):
    data = make_dataset(tmp_path / "data", n_classes=2, per_class=3)
    with pytest.raises(UsageError, match="inside the dataset"):
        run_directory(str(data), data / "runs")
    monkeypatch.chdir(data / "class_0")
    monkeypatch.setenv("VPTADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    default = run_directory(str(data), None)
    assert default.parent == tmp_path / "cache" / "runs"
    monkeypatch.chdir(tmp_path)
    assert run_directory(str(data), None).parent == tmp_path / "runs"
