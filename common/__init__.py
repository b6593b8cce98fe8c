"""Code shared by the model families: layer specs and their builder, the extra Keras layers, the layer table."""
