"""The fitting protocol around the network, one room per step:

1. :mod:`.folds` -- one stratified K-fold assignment of the training patients, shared by the
   offset's choice, its cross-fitting and the members;
2. :mod:`.offset` -- the linear model (a parameter object) and its out-of-fold predictor
   (:mod:`.splines` gives it curves of the numeric clinical columns);
3. :mod:`.members` -- K networks trained at once on their folds, and their out-of-fold
   predictions;
4. :mod:`.weight` -- w in ``(1 - w) offset + w mean network`` from the out-of-fold
   predictions, with a one-standard-error rule toward the offset.
"""

from .folds import inner_folds, member_indices, validation_split
from .members import Members, fit_members, members_log_risk, new_network
from .offset import ClinicalRidgeOffset, CoxnetOffset
from .weight import RESIDUAL_WEIGHTS, blend_out_of_fold, choose_residual_weight

__all__ = [
    "RESIDUAL_WEIGHTS",
    "ClinicalRidgeOffset",
    "CoxnetOffset",
    "Members",
    "blend_out_of_fold",
    "choose_residual_weight",
    "fit_members",
    "inner_folds",
    "member_indices",
    "members_log_risk",
    "new_network",
    "validation_split",
]
