"""Input data: the offline digits source and the papers' preprocessing (pure functions, NumPy or tensors).

    import data
    images, labels = data.digits.load("train")
    x = data.global_contrast_normalize(images)            # pylearn2/neon GCN, scale 55
    zca = data.ZCA.fit(x, bias=0.1)                       # pylearn2 ZCA (bias 0: neon v1.4.0)
    white = zca.apply(x)
"""

from data import digits
from data.whitening import ZCA, global_contrast_normalize

__all__ = ["digits", "ZCA", "global_contrast_normalize"]
