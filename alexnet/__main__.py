"""python -m alexnet [VARIANT ...]: print each variant's layer table (output shapes, neurons, parameters)."""

import sys

import alexnet
from common.summary import layer_table


def main(argv):
    names = argv[1:] or alexnet.VARIANTS
    for name in names:
        if name not in alexnet.VARIANTS:
            sys.exit(f"unknown AlexNet variant {name!r}; valid variants: {', '.join(alexnet.VARIANTS)}")
    for name in names:
        model = alexnet.build(name)
        print(layer_table(model, title=f"\nAlexNet '{name}' ({alexnet.VARIANT_TABLE[name].source})"))


if __name__ == "__main__":
    main(sys.argv)
