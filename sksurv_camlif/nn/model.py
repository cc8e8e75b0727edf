"""The CA-MLIF network: tokenizers, encoders, cross-attention, MLIF fusion and risk head."""

from typing import NamedTuple, Optional

import torch
from torch import nn

from .cross_attention import GlobalContextCrossAttention
from .encoder import ModalityEncoder
from .fusion import LowRankFusion, ModalAttention, OptimalWeightConcat
from .tokenizer import GroupTokenizer, split_groups

__all__ = ["CAMLIFNet", "CAMLIFOutput"]


class CAMLIFOutput(NamedTuple):
    """What :class:`CAMLIFNet` returns.

    Attributes
    ----------
    log_risk : Tensor, shape (B,)
        One log hazard ratio per patient.
    original : Tensor, shape (B, M, d)
        Encoder class tokens p (absent modalities replaced by their learned absent
        embedding).
    enhanced : Tensor, shape (B, M, d), or None
        Cross-attention-enhanced class tokens p-hat; None without cross-attention.
    """

    log_risk: torch.Tensor
    original: torch.Tensor
    enhanced: Optional[torch.Tensor]


class CAMLIFNet(nn.Module):
    """CA-MLIF (An et al., AAAI 2025) as a plain PyTorch module: tensors in, tensors out.

    Parameters
    ----------
    block_features : list of int
        Width p_m of each modality block (M blocks).
    groups : list of (list of list of int or None), optional
        Per block, explicit feature groups (one token each). None cuts the block into
        ``n_tokens`` contiguous groups.
    n_tokens : int, default=4
    n_clinical : int, default=0
        Width of the clinical vector that joins at the head (0: none).
    d_model : int, default=32
    n_heads : int, default=4
    n_encoder_layers : int, default=2
    rank : int, default=4
        LMF rank.
    hidden_size : int, default=64
        Width of the fusion MLP of eq. 5 and of the head.
    dropout : float, default=0.1
    cross_attention : bool, default=True
        False is the paper's "without cross-attention" ablation: only the original class
        tokens are fused.
    second_fusion : bool, default=True
        False is the "without second fusion" ablation: h comes from the enhanced features
        only.
    clinical_linear : bool, default=True
        Add a linear term of the clinical vector to the log-risk, so the head refines a
        Cox-like clinical model instead of re-learning it.

    Forward
    -------
    blocks : list of M tensors (B, p_m); NaN allowed where the modality is absent.
    present : (B, M) bool, optional (default: all present).
    clinical : (B, n_clinical), optional.
    Returns :class:`CAMLIFOutput`.
    """

    def __init__(
        self,
        block_features,
        groups=None,
        n_tokens=4,
        n_clinical=0,
        d_model=32,
        n_heads=4,
        n_encoder_layers=2,
        rank=4,
        hidden_size=64,
        dropout=0.1,
        cross_attention=True,
        second_fusion=True,
        clinical_linear=True,
    ):
        super().__init__()
        n_mod = len(block_features)
        if n_mod < 1:
            raise ValueError("CAMLIFNet needs at least one modality block")
        groups = list(groups) if groups is not None else [None] * n_mod
        if len(groups) != n_mod:
            raise ValueError(f"groups has {len(groups)} entries for {n_mod} blocks")
        self.n_modalities = n_mod
        self.n_clinical = n_clinical
        self.cross_attention = bool(cross_attention) and n_mod >= 2
        self.second_fusion = bool(second_fusion)

        self.tokenizers = nn.ModuleList(
            GroupTokenizer(p, g if g is not None else split_groups(p, n_tokens), d_model, dropout)
            for p, g in zip(block_features, groups)
        )
        self.encoders = nn.ModuleList(
            ModalityEncoder(d_model, n_heads, n_encoder_layers, dropout) for _ in range(n_mod)
        )
        self.absent = nn.Parameter(torch.zeros(n_mod, d_model))

        fused = d_model  # LMF output width
        use_original = not self.cross_attention or self.second_fusion
        use_enhanced = self.cross_attention
        owc_width = n_mod * d_model
        if use_original:
            self.mam = ModalAttention(d_model, n_mod)
            self.lmf = LowRankFusion(d_model, fused, n_mod, rank)
            owc_width += fused
        if use_enhanced:
            self.cross = GlobalContextCrossAttention(d_model, n_heads, n_mod)
            self.mam_hat = ModalAttention(d_model, n_mod)
            self.lmf_hat = LowRankFusion(d_model, fused, n_mod, rank)
            owc_width += fused
        self.owc = OptimalWeightConcat(owc_width)
        self.fusion_mlp = nn.Sequential(
            nn.Linear(owc_width, hidden_size), nn.ELU(), nn.Dropout(dropout)
        )

        head_in = hidden_size
        if n_clinical:
            self.clinical_encoder = nn.Sequential(nn.Linear(n_clinical, d_model), nn.ELU())
            head_in += d_model
            self.clinical_linear = nn.Linear(n_clinical, 1, bias=False) if clinical_linear else None
            if self.clinical_linear is not None:
                nn.init.zeros_(self.clinical_linear.weight)
        self.head = nn.Sequential(
            nn.Linear(head_in, hidden_size), nn.ELU(), nn.Dropout(dropout), nn.Linear(hidden_size, 1)
        )
        nn.init.normal_(self.head[-1].weight, std=1e-3)
        nn.init.zeros_(self.head[-1].bias)

    def fusion_parts(self):
        """Names and widths of the parts the optimal weight concatenation joins (eq. 5), in
        its order: the fused original and enhanced vectors (LMF), then the class tokens the
        second fusion adds (the enhanced ones only without it)."""
        d = self.absent.shape[1]
        use_original = not self.cross_attention or self.second_fusion
        parts = []
        if use_original:
            parts.append(("lmf_original", d))
        if self.cross_attention:
            parts.append(("lmf_enhanced", d))
            if not self.second_fusion:
                parts.append(("tokens_enhanced", self.n_modalities * d))
        if use_original:
            parts.append(("tokens_original", self.n_modalities * d))
        return parts

    def _class_tokens(self, seqs, present):
        p = torch.stack([s[:, 0] for s in seqs], dim=1)
        return torch.where(present.unsqueeze(-1), p, self.absent.to(p.dtype))

    def forward(self, blocks, present=None, clinical=None):
        if len(blocks) != self.n_modalities:
            raise ValueError(f"expected {self.n_modalities} blocks, got {len(blocks)}")
        batch = blocks[0].shape[0]
        if present is None:
            present = torch.ones(batch, self.n_modalities, dtype=torch.bool, device=blocks[0].device)
        present = present.to(torch.bool)
        # absent blocks may hold NaN: zero them so nothing propagates, then mask them out
        seqs = [
            enc(tok(torch.where(present[:, m : m + 1], x, torch.zeros_like(x))))[1]
            for m, (x, tok, enc) in enumerate(zip(blocks, self.tokenizers, self.encoders))
        ]
        p = self._class_tokens(seqs, present)

        fused, p_hat = {}, None
        if self.cross_attention:
            p_hat = self._class_tokens(self.cross(seqs, present), present)
            fused["lmf_enhanced"] = self.lmf_hat(self.mam_hat(p_hat), present)
            fused["tokens_enhanced"] = p_hat.flatten(1)
        if not self.cross_attention or self.second_fusion:
            fused["lmf_original"] = self.lmf(self.mam(p), present)
            fused["tokens_original"] = p.flatten(1)
        h = self.fusion_mlp(self.owc([fused[name] for name, _ in self.fusion_parts()]))  # eq. 5

        if self.n_clinical:
            if clinical is None:
                raise ValueError("this network was built with a clinical block: pass clinical")
            h = torch.cat([h, self.clinical_encoder(clinical)], dim=-1)
        log_risk = self.head(h).squeeze(-1)
        if self.n_clinical and self.clinical_linear is not None:
            log_risk = log_risk + self.clinical_linear(clinical).squeeze(-1)
        return CAMLIFOutput(log_risk, p, p_hat)
