"""sksurv_camlif: the CA-MLIF multimodal deep survival model for scikit-survival."""

import sksurv  # noqa: F401  (patches Pipeline with the survival-function methods)

from ._version import __version__
from .estimator import CAMLIFSurvival

__all__ = ["CAMLIFSurvival", "__version__"]
