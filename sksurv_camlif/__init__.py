"""sksurv_camlif: the CA-MLIF multimodal deep survival model for scikit-survival."""

from ._version import __version__

__all__ = ["CAMLIFSurvival", "load", "__version__"]


def __getattr__(name):
    # PEP 562: the estimator (torch, scikit-survival) is imported on first use only, so that
    # `sksurv-camlif --help` and the light submodules start fast
    if name == "CAMLIFSurvival":
        import sksurv  # noqa: F401  (patches Pipeline with the survival-function methods)

        from .estimator import CAMLIFSurvival

        globals()[name] = CAMLIFSurvival  # later look-ups skip __getattr__
        return CAMLIFSurvival
    if name == "load":
        from .model_file import load

        globals()[name] = load
        return load
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"CAMLIFSurvival", "load"})
