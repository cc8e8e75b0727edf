"""Saving a fitted CAMLIFSurvival, in one place: ``save`` writes the model file of
:mod:`sksurv_camlif.model_file` (loads without running code); pickling moves the members'
weights as CPU state dicts with the network's arguments, so that a model fitted on a GPU
loads on a machine without one, and records the package version, compared on load."""

import warnings

from ._version import __version__
from .device import module_state_to_cpu, restore_device
from .nn import CAMLIFNet

__all__ = ["MembersPickleMixin"]


class MembersPickleMixin:
    """``save``, and ``__getstate__``/``__setstate__`` of an estimator whose fitted networks
    are ``members_`` (``module_`` is ``members_[0]``), built by ``_network_kwargs``."""

    def save(self, path):
        """Write the fitted model to one file that :func:`sksurv_camlif.load` reads without
        running code from it (:mod:`sksurv_camlif.model_file`).

        Parameters
        ----------
        path : str, path-like or binary file object
            Where to write; ``.skops`` is the usual extension.
        """
        from .model_file import save  # skops is imported when a model is saved

        save(self, path)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the live __dict__ must keep module_
        state["_sksurv_camlif_version"] = __version__
        state.pop("module_", None)  # members_[0]
        members = state.pop("members_", None)
        if members is not None:
            state["_member_states"] = [module_state_to_cpu(m) for m in members]
            state["_module_kwargs"] = self._network_kwargs(self._blocks, self._clinical_block)
            state["device_"] = str(self.device_)
        return state

    def __setstate__(self, state):
        version = state.pop("_sksurv_camlif_version", None)
        if version != __version__:
            warnings.warn(
                f"this CAMLIFSurvival was pickled with sksurv_camlif {version}; this is "
                f"{__version__}. It may not load or predict correctly",
                UserWarning,
                stacklevel=2,
            )
        member_states = state.pop("_member_states", None)
        module_kwargs = state.pop("_module_kwargs", None)
        super().__setstate__(state)
        if member_states is not None:
            device = restore_device(state["device_"])
            members = []
            for member_state in member_states:
                module = CAMLIFNet(**module_kwargs)
                module.load_state_dict(member_state)
                members.append(module.to(device).eval())
            self.members_ = members
            self.module_ = members[0] if members else None
            self.device_ = device
