"""Shared training code: the optimizer, the learning-rate schedules, the distributed loop, checkpoints and export."""
