"""slidercaptcha: find the gap and the slider of a slider captcha.

    from slidercaptcha import SliderSolver
    result = SliderSolver.load().solve("captcha.png", piece="piece.png")

``SliderSolver`` and ``SolveResult`` are imported on first use (module ``__getattr__``), so
``import slidercaptcha`` stays cheap: no torch until the solver is asked for.
"""

__version__ = "0.1.0"

# name -> module it lives in (imported lazily by __getattr__)
_LAZY = {
    "SliderSolver": "slidercaptcha.inference.solver",
    "SolveResult": "slidercaptcha.inference.solver",
}

__all__ = ["SliderSolver", "SolveResult", "__version__"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
