"""Data sets bundled with sksurv_camlif."""

from ._tcga_gbmlgg import TCGAGBMLGG, iter_splits, load_tcga_gbmlgg

__all__ = ["TCGAGBMLGG", "iter_splits", "load_tcga_gbmlgg"]
