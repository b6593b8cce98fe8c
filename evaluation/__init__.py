"""Scoring models: exact top-1/top-5 counting over every example of a split and its report (``metrics``), and the
models evaluate.py scores, loaded from a training workdir, a SavedModel or a .keras file (``score``)."""
