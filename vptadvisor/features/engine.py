"""Where the FID Inception runs: an inference engine per device, exact by default.

| device | default engine | why |
|---|---|---|
| cpu  | OpenVINO f32 (else ONNX Runtime, else torch) | fastest exact CPU runtime measured (docs/analyze.md) |
| cuda | torch, TF32 off | the GPU is fast enough in float32; TF32 would move FIDs |
| mps  | torch | the only engine there |

``precision="exact"`` keeps float32 everywhere (features within 1e-4 relative of pytorch-fid's network).
``precision="bf16"`` runs the network in bfloat16: OpenVINO on a CPU with native bf16 (AVX512-BF16 /
AMX), torch autocast on CUDA. Its FIDs move by a fraction of a percent (docs/analyze.md), so engine
and precision are part of the extractor identity: cache entries never mix, references record them.

Converted models are kept once per machine under ``<cache>/engines/`` (written to a temporary
directory and renamed into place, so concurrent first runs cannot leave a half-written model).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vptadvisor.device import resolve_device
from vptadvisor.errors import UsageError

ENGINES = ("auto", "torch", "openvino", "onnxruntime")
PRECISIONS = ("exact", "bf16")
INPUT_SHAPE = (3, 299, 299)


@dataclass(frozen=True)
class EngineChoice:
    """The engine, device and precision a run uses; `identity` is what changes the numbers."""

    engine: str  # torch | openvino | onnxruntime
    device: str  # cpu | cuda | mps
    precision: str  # exact | bf16

    @property
    def identity(self) -> dict:
        return {"engine": f"{self.engine}-{self.device}", "precision": self.precision}

    @property
    def label(self) -> str:
        return f"{self.engine}/{self.device}/{self.precision}"


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def cpu_has_bf16() -> bool:
    """Native bfloat16 arithmetic on this CPU (AVX512-BF16 or AMX), as Linux reports it."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def choose_engine(engine: str = "auto", device: str = "auto", precision: str = "exact") -> EngineChoice:
    """Validate the request and pick the engine (cheap: imports no engine and, on a CPU-only Linux
    machine, not even torch)."""
    if engine not in ENGINES:
        raise UsageError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    if precision not in PRECISIONS:
        raise UsageError(f"Unknown precision {precision!r}: choose exact or bf16.")
    dev = resolve_device(device)
    if dev != "cpu" and engine in ("openvino", "onnxruntime"):
        raise UsageError(f"--engine {engine} runs on the CPU only; use --device cpu or --engine torch.")
    if engine == "auto":
        if dev != "cpu":
            engine = "torch"
        elif _installed("openvino"):
            engine = "openvino"
        elif _installed("onnxruntime") and precision == "exact":
            engine = "onnxruntime"
        else:
            engine = "torch"
    elif engine != "torch" and not _installed(engine):
        raise UsageError(f"--engine {engine} needs the {engine} package: pip install {engine}, or use --engine torch.")
    if precision == "bf16":
        if dev == "mps" or engine == "onnxruntime":
            raise UsageError(f"--precision bf16 is not offered with {engine} on {dev}; use --precision exact.")
        if dev == "cpu" and not cpu_has_bf16():
            raise UsageError(
                "--precision bf16 needs a CPU with native bfloat16 (AVX512-BF16 or AMX) and this one "
                "has none; use --precision exact (the default)."
            )
    return EngineChoice(engine, dev, precision)


Runner = Callable[[np.ndarray], dict[str, np.ndarray]]  # Bx3x299x299 float32 in [-1, 1] -> name -> BxD


def build_runner(
    choice: EngineChoice,
    state_dict_fn: Callable[[], dict],
    taps: Sequence,
    names: Sequence[str],
    cache_root: Path | None,
    weights_sha256: str,
    threads: int | None = None,
) -> Runner:
    """Load the network on the chosen engine. `names`: the outputs in order ("pool3", tap names)."""
    if choice.engine == "torch":
        return _torch_runner(choice, state_dict_fn, taps, names)
    model_dir = _converted_model_dir(choice, state_dict_fn, taps, names, cache_root, weights_sha256)
    if choice.engine == "openvino":
        return _openvino_runner(choice, model_dir, names, cache_root, threads)
    return _onnxruntime_runner(model_dir, names, threads)


class _TupleOut:
    """Wraps FIDInception so it returns a tuple in a fixed order (what exporters want)."""

    @staticmethod
    def wrap(model, names: Sequence[str]):
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = model

            def forward(self, x):
                out = self.inner(x)
                return tuple(out[n] for n in names)

        return Wrapped().eval()


def _torch_model(state_dict_fn, taps):
    from vptadvisor.features.inception import FIDInception

    return FIDInception(state_dict_fn(), taps=tuple(taps))


def _torch_runner(choice: EngineChoice, state_dict_fn, taps, names) -> Runner:
    import torch

    model = _torch_model(state_dict_fn, taps).to(choice.device).to(memory_format=torch.channels_last)
    if choice.device == "cpu" and choice.precision == "bf16":
        autocast_device = "cpu"
    else:
        autocast_device = choice.device

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy(batch).to(choice.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # exact: no TF32
        try:
            with (
                torch.inference_mode(),
                torch.autocast(autocast_device, dtype=torch.bfloat16, enabled=choice.precision == "bf16"),
            ):
                out = model(x)
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
        return {n: out[n].float().cpu().numpy() for n in names}

    return run


def engine_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("openvino", "onnxruntime"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _engine_bases(cache_root: Path | None) -> list[Path]:
    """Where converted models live, in order: the machine's cache (`vptadvisor.paths.cache_dir()`,
    so a run with its own --cache-dir converts nothing again), this run's cache, the temp folder."""
    from vptadvisor.paths import cache_dir

    fallback = Path(tempfile.gettempdir()) / f"vptadvisor-engines-{os.getuid() if hasattr(os, 'getuid') else 0}"
    bases = [cache_dir() / "engines"] + ([cache_root / "engines"] if cache_root is not None else []) + [fallback]
    return list(dict.fromkeys(bases))


def _converted_model_dir(
    choice: EngineChoice, state_dict_fn, taps, names, cache_root: Path | None, weights_sha256: str
) -> Path:
    """The converted model for this engine, weights and outputs: made once per machine, atomically."""
    import torch

    fmt = "openvino-ir" if choice.engine == "openvino" else "onnx"
    version = engine_versions().get(choice.engine, "?") + f"-torch{torch.__version__}"
    key = hashlib.sha256(f"{fmt}|{version}|{weights_sha256}|{','.join(names)}".encode()).hexdigest()[:16]
    bases = _engine_bases(cache_root)
    for base in bases:  # made before, wherever: the machine's cache, this run's cache, the temp folder
        if (base / f"{fmt}-{key}" / "complete").is_file():
            return base / f"{fmt}-{key}"
    for base in bases:
        final = base / f"{fmt}-{key}"
        marker = final / "complete"
        try:
            base.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{fmt}-", dir=base))
            break
        except OSError:
            continue  # a read-only cache: convert into the temporary directory instead
    else:
        raise OSError("no writable directory for the converted model")
    try:
        _convert(fmt, _TupleOut.wrap(_torch_model(state_dict_fn, taps), names), tmp, names)
        (tmp / "complete").write_text(version + "\n")
        try:
            os.replace(tmp, final)
        except OSError:  # another process won the race (final exists and is not empty): use theirs
            if not marker.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _convert(fmt: str, model, tmp: Path, names: Sequence[str]) -> None:
    import warnings

    import torch

    example = torch.zeros(2, *INPUT_SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' deprecation chatter is not the user's business
        if fmt == "openvino-ir":
            import openvino as ov

            converted = ov.convert_model(model, example_input=example, input=[ov.PartialShape([-1, *INPUT_SHAPE])])
            for port, name in zip(converted.outputs, names):
                port.get_tensor().set_names({name})
            ov.save_model(converted, str(tmp / "model.xml"), compress_to_fp16=False)  # keep f32 weights
        else:
            torch.onnx.export(
                model,
                (example,),
                str(tmp / "model.onnx"),
                input_names=["x"],
                output_names=list(names),
                dynamic_axes={"x": {0: "batch"}, **{n: {0: "batch"} for n in names}},
                opset_version=17,
                dynamo=False,
            )


def _openvino_runner(
    choice: EngineChoice, model_dir: Path, names, cache_root: Path | None, threads: int | None
) -> Runner:
    import openvino as ov

    core = ov.Core()
    config: dict[str, str | int] = {
        "INFERENCE_PRECISION_HINT": "bf16" if choice.precision == "bf16" else "f32",  # f32 even on bf16 CPUs
        "PERFORMANCE_HINT": "LATENCY",
    }
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    for base in _engine_bases(cache_root)[:-1]:  # OpenVINO's compiled-blob cache, beside the converted models
        try:
            (base / "openvino-blobs").mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(base / "openvino-blobs")})
            break
        except OSError:
            continue
    compiled = core.compile_model(str(model_dir / "model.xml"), "CPU", config)
    request = compiled.create_infer_request()
    outputs = [compiled.output(n) for n in names]

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        result = request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        return {n: np.array(result[port], dtype=np.float32) for n, port in zip(names, outputs)}

    return run


def _onnxruntime_runner(model_dir: Path, names, threads: int | None) -> Runner:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
    session = ort.InferenceSession(str(model_dir / "model.onnx"), opts, providers=["CPUExecutionProvider"])

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        out = session.run(list(names), {"x": np.ascontiguousarray(batch, dtype=np.float32)})
        return {n: np.asarray(o, dtype=np.float32) for n, o in zip(names, out)}

    return run
