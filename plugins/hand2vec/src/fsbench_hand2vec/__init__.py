"""hand2vec: the thesis's reference method as an fsbench plugin (registered via entry points).

A small hand-pose network (Fig 3.1) or character classifier (Fig 3.7) is trained on the fold's
training view only, frozen, and its bottleneck features feed a siamese dual-path head
(`fsbench.heads.DualPathHead`) whose unit embeddings are classified by prototype similarity.
"""

__version__ = "0.1.0"
