"""The CA-MLIF network, one module per idea of the paper."""

from .cross_attention import GlobalContextCrossAttention
from .encoder import ModalityEncoder, MultiHeadSelfAttention, SelfAttentionBlock, softmax_last
from .fusion import LowRankFusion, ModalAttention, OptimalWeightConcat
from .model import CAMLIFNet, CAMLIFOutput
from .tokenizer import GroupTokenizer, split_groups

__all__ = [
    "CAMLIFNet",
    "CAMLIFOutput",
    "GlobalContextCrossAttention",
    "GroupTokenizer",
    "LowRankFusion",
    "ModalAttention",
    "ModalityEncoder",
    "MultiHeadSelfAttention",
    "OptimalWeightConcat",
    "SelfAttentionBlock",
    "softmax_last",
    "split_groups",
]
