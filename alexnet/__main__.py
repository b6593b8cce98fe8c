"""python -m alexnet [VARIANT ...]: print each variant's layer table (output shapes, neurons, parameters)."""

import sys

import alexnet
from common import summary

if __name__ == "__main__":
    summary.main(alexnet, "AlexNet", sys.argv)
