"""AlexNet (Krizhevsky, Sutskever, Hinton 2012) and the variants Caffe, neon and torchvision trained.

    import alexnet
    model = alexnet.build("paper", num_classes=1000)   # one of alexnet.VARIANTS
"""

from alexnet.model import VARIANT_TABLE, VARIANTS, build, input_shape, network
from common.layers import LocalResponseNormalization, TowerConv2D

__all__ = ["VARIANTS", "VARIANT_TABLE", "build", "input_shape", "network", "LocalResponseNormalization", "TowerConv2D"]
