"""Test data in the real formats, made from images that packages ship: scikit-image's sample photos as an
ImageNet-style folder of JPEGs (one PNG among them, as ImageNet has one)."""

import tensorflow as tf
from skimage import data as skimage_data

PHOTOS = {"astronaut": skimage_data.astronaut, "chelsea": skimage_data.chelsea, "coffee": skimage_data.coffee,
          "rocket": skimage_data.rocket}
LAYOUT = {"train": {"n01440764": ["astronaut", "chelsea", "coffee"], "n01443537": ["rocket", "coffee"]},
          "val": {"n01440764": ["chelsea"], "n01443537": ["rocket", "astronaut"]}}


def write_image(path, image, fmt="jpeg"):
    """Encode ``image`` (uint8 HxWx3) as JPEG (quality 90) or PNG at ``path`` (a pathlib.Path)."""
    encoded = tf.io.encode_jpeg(image, quality=90) if fmt == "jpeg" else tf.io.encode_png(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encoded.numpy())


def photo_folder(root, layout=LAYOUT):
    """train/ and val/ of class folders holding real photos; the second train image of the second class is a PNG."""
    for split, classes in layout.items():
        for wnid, photos in classes.items():
            for i, photo in enumerate(photos):
                fmt = "png" if (split, wnid, i) == ("train", "n01443537", 1) else "jpeg"
                write_image(root / split / wnid / f"{wnid}_{i}.JPEG", PHOTOS[photo](), fmt)
    return root
