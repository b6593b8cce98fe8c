"""Each schedule's learning rate at chosen steps, against its formula worked by hand."""

import math

import pytest

from training.schedules import Plateau, Schedule

SPE = 100  # steps per epoch in these cases


@pytest.mark.parametrize("step, expected", [(0, 0.01), (1999, 0.01), (2000, 0.001), (3999, 0.001), (4000, 1e-4)])
def test_step_every_20_epochs_counts_from_epoch_0(step, expected):
    # x0.1 at the start of 0-based epochs 20, 40 (Caffe's floor(iter / stepsize), in epochs)
    assert Schedule(0.01, "step", 0.1, every=20)(step, SPE) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("epoch, expected", [(0, 0.01), (18, 0.01), (19, 0.001), (20, 0.001), (38, 0.001),
                                             (39, 1e-4), (59, 1e-5), (79, 1e-6), (89, 1e-6)])
def test_neon_step_cuts_at_epoch_indices_19_39_59_79(epoch, expected):
    # neon v1.4.0 Schedule(20, 0.1): lr * 0.1 ** floor((epoch + 1) / 20), epoch 0-based; every step of the epoch
    schedule = Schedule(0.01, "neon_step", 0.1, every=20)
    for step in (epoch * SPE, epoch * SPE + SPE - 1):
        assert schedule(step, SPE) == pytest.approx(expected, rel=1e-12)


def test_neon_step_counts_epochs_only():
    with pytest.raises(ValueError, match="lr_schedule='neon_step' counts epochs, as neon's Schedule does"):
        Schedule(0.01, "neon_step", 0.1, every=20, unit="steps")


@pytest.mark.parametrize("step, expected", [(0, 0.01), (99_999, 0.01), (100_000, 0.001), (449_999, 1e-6)])
def test_step_in_iterations_caffe_bvlc(step, expected):
    # Caffe bvlc_alexnet solver: base_lr 0.01, gamma 0.1, stepsize 100,000 iterations.
    assert Schedule(0.01, "step", 0.1, every=100_000, unit="steps")(step, 5004) == pytest.approx(expected)


@pytest.mark.parametrize("epoch, expected", [(0, 0.05), (199.99, 0.05), (200, 0.005), (250, 5e-4), (300, 5e-5),
                                             (349, 5e-5)])
def test_multistep_all_cnn_paper(epoch, expected):
    # Springenberg et al.: S = [200, 250, 300], x 0.1.
    schedule = Schedule(0.05, "multistep", 0.1, milestones=(200, 250, 300))
    assert schedule(round(epoch * SPE), SPE) == pytest.approx(expected)


def test_multistep_neon_one_weird_trick_weights_and_biases():
    weights = Schedule(0.01, "multistep", 0.15874, milestones=(22, 44, 65))
    biases = Schedule(0.02, "multistep", 0.1, milestones=(44,))
    assert weights(21 * SPE + 99, SPE) == pytest.approx(0.01)
    assert weights(22 * SPE, SPE) == pytest.approx(0.01 * 0.15874)
    assert weights(65 * SPE, SPE) == pytest.approx(0.01 * 0.15874 ** 3)  # ~ 0.01 / 250
    assert biases(43 * SPE, SPE) == pytest.approx(0.02) and biases(44 * SPE, SPE) == pytest.approx(0.002)


@pytest.mark.parametrize("step", [0, 1, 50_000, 100_000, 1_000_000])
def test_inverse_time_continuous(step):
    # tf inverse_time_decay: lr / (1 + rate * step / decay_steps), rate 0.95 every 100,000 steps.
    expected = 0.01 / (1 + 0.95 * step / 100_000)
    assert Schedule(0.01, "inverse_time", 0.95, decay_steps=100_000)(step, SPE) == pytest.approx(expected)
    assert Schedule(0.01, "inverse_time", 0.95, decay_steps=100_000)(100_000, SPE) == pytest.approx(0.01 / 1.95)


def test_plateau_rate_follows_the_cuts():
    schedule = Schedule(0.01, "plateau", 0.1)
    assert [schedule(123, SPE, cuts) for cuts in range(4)] == pytest.approx([0.01, 1e-3, 1e-4, 1e-5])


def test_plateau_rule_cuts_after_patience_and_at_most_max():
    plateau = Plateau(patience=2, min_delta=0.001, max_reductions=2)
    cuts = [plateau.update(e) for e in (0.5, 0.4, 0.4, 0.3995, 0.39, 0.39, 0.39, 0.39, 0.39, 0.39)]
    # 0.4 repeats (stale 1), 0.3995 improves by less than min_delta (stale 2 -> cut), 0.39 improves, then stale.
    assert cuts == [False, False, False, True, False, False, True, False, False, False]
    assert plateau.reductions == 2 and plateau.best == 0.39
    restored = Plateau(patience=2)
    restored.restore(plateau.state())
    assert restored.state() == plateau.state()


def test_linear_warmup_multiplies_the_schedule():
    schedule = Schedule(0.05, "multistep", 0.1, milestones=(200,), warmup_epochs=2)
    assert schedule(0, SPE) == pytest.approx(0.05 / 200)
    assert schedule(99, SPE) == pytest.approx(0.05 * 100 / 200)
    assert schedule(199, SPE) == pytest.approx(0.05) and schedule(5000, SPE) == pytest.approx(0.05)


@pytest.mark.parametrize("kwargs, flag", [
    (dict(base=0.0), "learning_rate"), (dict(base=0.1, kind="cosine"), "lr_schedule"),
    (dict(base=0.1, kind="step"), "--lr_decay_every"), (dict(base=0.1, kind="multistep"), "--lr_milestones"),
    (dict(base=0.1, kind="multistep", milestones=(3, 2)), "--lr_milestones"),
    (dict(base=0.1, kind="inverse_time"), "--lr_decay_steps"), (dict(base=0.1, unit="days"), "lr_unit")])
def test_bad_settings_name_the_flag(kwargs, flag):
    with pytest.raises(ValueError, match=flag):
        Schedule(**kwargs)


def test_units_are_epochs_by_default():
    assert Schedule(1.0, "step", 0.5, every=1)(SPE, SPE) == 0.5
    assert Schedule(1.0, "step", 0.5, every=1, unit="steps")(3, SPE) == 0.125
    assert math.isclose(Schedule(1.0)(10 ** 9, SPE), 1.0)


@pytest.mark.parametrize("step, periods", [(0, 0), (99_999, 0), (100_000, 1), (250_000, 2)])
def test_inverse_time_staircase_tensorflow_seed(step, periods):
    # the TensorFlow seed's script: inverse_time_decay(0.01, step, 100000, 0.95, staircase=True)
    schedule = Schedule(0.01, "inverse_time", 0.95, decay_steps=100_000, staircase=True)
    assert schedule(step, SPE) == pytest.approx(0.01 / (1 + 0.95 * periods), rel=1e-12)
