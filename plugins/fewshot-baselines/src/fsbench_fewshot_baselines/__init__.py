"""Standard few-shot baselines for fsbench, registered as `fsbench.methods` entry points:
protonet / protonet-joint (Snell et al. 2017), matchingnet (Vinyals et al. 2016), finetune
(Chen et al. 2019 Baseline/Baseline++) and supervised-cnn (the thesis's plain CNN comparison).
"""

__version__ = "0.1.0"
