"""All-CNN-C and its siblings (Springenberg et al. 2014, "Striving for Simplicity: The All Convolutional Net").

    import allcnn
    model = allcnn.build("all_cnn_c", num_classes=10)   # one of allcnn.VARIANTS
"""

from allcnn.model import INPUT_SHAPE, VARIANT_TABLE, VARIANTS, build, input_shape, network, output_classes

__all__ = ["INPUT_SHAPE", "VARIANTS", "VARIANT_TABLE", "build", "input_shape", "network", "output_classes"]
