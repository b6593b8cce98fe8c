"""python -m allcnn [VARIANT ...]: print each variant's layer table (output shapes, neurons, parameters)."""

import sys

import allcnn
from common import summary

if __name__ == "__main__":
    summary.main(allcnn, "All-CNN", sys.argv)
