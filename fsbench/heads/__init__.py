"""Embedding heads trained on frozen backbone features (thesis §3.2.1, §3.3).

`DualPathHead` is the thesis's siamese embedding network; `pairwise_siamese_loss` its loss;
`train_head` the §3.1.2 training recipe applied to small, precomputed feature tensors.
"""

from fsbench.configs.sections import HeadConfig
from fsbench.heads.dualpath import DualPathHead, LinearDualPathLayer
from fsbench.heads.loss import pairwise_siamese_loss
from fsbench.training.schedule import LRSchedule
from fsbench.heads.train import train_head

__all__ = ["HeadConfig", "DualPathHead", "LinearDualPathLayer", "pairwise_siamese_loss", "LRSchedule", "train_head"]
