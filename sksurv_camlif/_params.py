"""Nested parameters of the estimator's named parts, as scikit-learn's
:class:`~sklearn.compose.ColumnTransformer` and :class:`~sklearn.ensemble.StackingRegressor`
expose them: ``modalities__<name>`` (a block's transformer) and
``modalities__<name>__<param>``, ``clinical__<param>`` (the clinical transformer's), and
``offset__<param>`` (the offset's)."""

from .protocol import CoxnetOffset

__all__ = ["DEFAULT_OFFSET", "NamedPartsMixin", "resolve_offset"]

#: The string that stands for the default offset, :class:`~.protocol.CoxnetOffset` ()
DEFAULT_OFFSET = "coxnet"


def resolve_offset(offset):
    """The offset object the parameter ``offset`` stands for (not a copy), or None."""
    if offset is None or not isinstance(offset, str):
        return offset
    if offset == DEFAULT_OFFSET:
        return CoxnetOffset()
    raise ValueError(f"offset={offset!r}: expected {DEFAULT_OFFSET!r}, an offset object or None")


class NamedPartsMixin:
    """``get_params``/``set_params`` that reach the parts' own parameters."""

    def _named_transformers(self):
        """(prefix, transformer) of every block whose transformer has parameters."""
        out = []
        if isinstance(self.modalities, (list, tuple)):
            for entry in self.modalities:
                if isinstance(entry, (list, tuple)) and len(entry) == 3 and isinstance(entry[0], str):
                    out.append((f"modalities__{entry[0]}", entry[1]))
        if isinstance(self.clinical, tuple) and len(self.clinical) == 2 and hasattr(self.clinical[0], "get_params"):
            out.append(("clinical", self.clinical[0]))
        return out

    def get_params(self, deep=True):
        """Parameters of the estimator; with ``deep=True`` also each block's transformer
        (``modalities__<name>``) and its parameters (``modalities__<name>__<param>``), those
        of the clinical transformer (``clinical__<param>``) and of the offset
        (``offset__<param>``; for ``offset="coxnet"``, those of ``CoxnetOffset()``).
        """
        out = super().get_params(deep=deep)
        if not deep:
            return out
        for prefix, transformer in self._named_transformers():
            if prefix != "clinical":
                out[prefix] = transformer
            if hasattr(transformer, "get_params"):
                for key, value in transformer.get_params(deep=True).items():
                    out[f"{prefix}__{key}"] = value
        if isinstance(self.offset, str):
            offset = resolve_offset(self.offset) if self.offset == DEFAULT_OFFSET else None
            for key, value in (offset.get_params(deep=True) if offset is not None else {}).items():
                out[f"offset__{key}"] = value
        return out

    def set_params(self, **params):
        """Set parameters, including nested ones (see :meth:`get_params`).

        ``modalities__<name>`` replaces that block's transformer (e.g. by "passthrough");
        ``modalities__<name>__<param>``, ``clinical__<param>`` and ``offset__<param>`` are
        passed to the part's own ``set_params`` (``offset="coxnet"`` first becomes
        ``CoxnetOffset()``).
        """
        nested = {k: params.pop(k) for k in list(params) if k.startswith(("modalities__", "clinical__", "offset__"))}
        super().set_params(**params)  # first: a new `modalities`, `clinical` or `offset` replaces the old
        for key, value in nested.items():
            part, _, param = key.partition("__")
            if part == "clinical":
                self._clinical_transformer(key).set_params(**{param: value})
            elif part == "offset":
                self._offset_object(key).set_params(**{param: value})
            else:
                self._set_block(key, value)
        return self

    def _set_block(self, key, value):
        name, _, param = key[len("modalities__"):].partition("__")
        i = self._block_index(name, key)
        block_name, transformer, columns = self.modalities[i]
        if param:
            transformer.set_params(**{param: value})
        else:
            blocks = list(self.modalities)
            blocks[i] = (block_name, value, columns)
            self.modalities = blocks

    def _block_index(self, name, key):
        for i, entry in enumerate(self.modalities):
            if entry[0] == name:
                return i
        names = [entry[0] for entry in self.modalities]
        raise ValueError(f"Invalid parameter {key!r}: there is no modality {name!r} (modalities: {names})")

    def _clinical_transformer(self, key):
        if not (isinstance(self.clinical, tuple) and len(self.clinical) == 2
                and hasattr(self.clinical[0], "set_params")):
            raise ValueError(
                f"Invalid parameter {key!r}: the clinical block has no transformer with "
                "parameters; give clinical=(transformer, columns)"
            )
        return self.clinical[0]

    def _offset_object(self, key):
        if isinstance(self.offset, str) and self.offset == DEFAULT_OFFSET:
            self.offset = resolve_offset(self.offset)
        if not hasattr(self.offset, "set_params"):
            raise ValueError(f"Invalid parameter {key!r}: offset={self.offset!r} has no parameters")
        return self.offset
