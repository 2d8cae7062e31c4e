"""Helpers of the tests that run with each one-row predictor (the ``path`` fixture)."""

from __future__ import annotations


def walk_built() -> bool:
    """Whether the compiled tree walk is built and current here (``make speedups``)."""
    try:
        import fraudwatch.models._treewalk  # noqa: F401
    except (ImportError, RuntimeWarning):
        return False
    return True


def check_kind(predictor: object, path: str) -> None:
    """Check that the one-row predictor in use is the one ``path`` asks for."""
    from fraudwatch.models import _lightgbm as lgb_module
    from fraudwatch.models._forest import CompiledForest

    expected = CompiledForest if path == "compiled" else lgb_module._SingleRowPredictor
    assert isinstance(predictor, expected)
