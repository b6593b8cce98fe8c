"""python -m allcnn [VARIANT ...]: print each variant's layer table (output shapes, neurons, parameters)."""

import sys

import allcnn
from common.summary import layer_table


def main(argv):
    names = argv[1:] or allcnn.VARIANTS
    for name in names:
        if name not in allcnn.VARIANTS:
            sys.exit(f"unknown All-CNN variant {name!r}; valid variants: {', '.join(allcnn.VARIANTS)}")
    for name in names:
        model = allcnn.build(name)
        print(layer_table(model, title=f"\nAll-CNN '{name}' ({allcnn.VARIANT_TABLE[name].source})"))


if __name__ == "__main__":
    main(sys.argv)
