"""vptadvisor: decide between Visual Prompt Tuning and full fine-tuning, with evidence.

    from vptadvisor import analyze, pilot

    result = analyze("./my_dataset", objective="classification")   # -> AnalyzeResult
    result.verdict.choice, result.verdict.p_vpt, result.to_dict()   # same fields as --format json
    run = pilot("./my_dataset", budget="30m")                       # -> PilotResult (trains; needs torch)

`analyze` and `pilot` are the modules `vptadvisor.analyze` and `vptadvisor.pilot`, made callable:
calling them calls `vptadvisor.analyze.analyze` and `vptadvisor.pilot.run_pilot`. Both are imported
on first use, so `import vptadvisor` stays light (the pilot imports torch).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

# name -> the function a call of the (sub)module runs
_CALLABLE = {"analyze": "analyze", "pilot": "run_pilot"}


class _CallableModule(types.ModuleType):
    """A module that can be called: `vptadvisor.analyze(...)` is `vptadvisor.analyze.analyze(...)`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = _CALLABLE[self.__name__.rpartition(".")[2]]
        function = self.__dict__.get(name)
        if function is None:
            raise ImportError(f"{self.__name__} has no {name}() yet: update vptadvisor.")
        return function(*args, **kwargs)


def _make_callable(module: types.ModuleType) -> None:
    if not isinstance(module, _CallableModule):
        module.__class__ = _CallableModule
    function = module.__dict__.get(_CALLABLE[module.__name__.rpartition(".")[2]])
    if function is not None:
        module.__wrapped__ = function  # inspect.signature / help() show the function's signature


class _Package(types.ModuleType):
    """The package object: when the import system binds the submodules `analyze` or `pilot` on it
    (however they were first imported), they are made callable."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _CALLABLE and isinstance(value, types.ModuleType):
            _make_callable(value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:  # `vptadvisor.analyze` before anything imported it
    if name in _CALLABLE:  # importing binds the submodule on the package: _Package.__setattr__ makes it callable
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_CALLABLE))


__all__ = ["__version__", "analyze", "pilot"]
