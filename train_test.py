"""train.py end to end on small real data: the smoke recipe on the digits (default and MirroredStrategy over two
logical CPUs), mocked CIFAR-10 and mocked ImageNet; TensorBoard contents; bad flags. Resume, preemption and
failures: reliability_test.py."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from training import precision

ROOT = os.path.dirname(os.path.abspath(__file__))
SMOKE = "--flagfile=configs/smoke.flags"


def run_subprocess(*args, env=None):
    return subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=600)


def first_and_last_loss(scalars, workdir):
    values, _ = scalars(os.path.join(workdir, "train"))
    losses = [v for _, v in values["loss"]]
    return losses[0], losses[-1]


@pytest.mark.slow
def test_smoke_on_digits_loss_decreases_and_tensorboard_has_every_summary(tmp_path, run_train, scalars):
    workdir = str(tmp_path / "run")
    assert run_train(SMOKE, f"--workdir={workdir}") is None
    first, last = first_and_last_loss(scalars, workdir)
    assert last < first
    train_values, events = scalars(os.path.join(workdir, "train"))
    assert {"loss", "top1_error", "top5_error", "learning_rate", "bias_learning_rate", "images_per_sec"} <= set(
        train_values)
    assert [step for step, _ in train_values["loss"]] == [2, 4, 6]
    assert train_values["learning_rate"][0][1] == pytest.approx(0.01)
    tags = events.Tags()["tensors"]
    assert {"augmented training images", "augmented training images as the network receives them"} <= set(tags)
    assert any(tag.endswith("conv1/kernel") for tag in tags)  # weight histograms
    validation, validation_events = scalars(os.path.join(workdir, "validation"))
    assert {"loss", "top1_error", "top5_error"} <= set(validation) and validation["loss"][0][0] == 6
    figures = {tag: validation_events.Tensors(tag) for tag in ("conv1_kernels", "nearest_neighbours",
                                                               "confusion_matrix")}
    for tag, events_of_tag in figures.items():  # one PNG each, at the validation's step
        assert [e.step for e in events_of_tag] == [6], tag
        width, height, png = events_of_tag[0].tensor_proto.string_val
        assert png.startswith(b"\x89PNG") and int(width) > 100 and int(height) > 100, tag
    assert open(os.path.join(workdir, "flags.txt")).read().count("--model=allcnn") == 1
    info = json.load(open(os.path.join(workdir, "run.json")))
    assert info["model"] == "allcnn" and info["variant"] == "all_cnn_c" and info["steps_per_epoch"] == 1437 // 16
    assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")).endswith("ckpt-6")
    assert tf.train.latest_checkpoint(os.path.join(workdir, "best")).endswith("best-6")
    # the workdir's flags.txt repeats the run: replayed, it finds the run finished (flags left unset, such as
    # --bias_weight_decay, stay unset rather than becoming "--bias_weight_decay=", which does not parse)
    assert "--bias_weight_decay" not in open(os.path.join(workdir, "flags.txt")).read()
    assert run_train(f"--flagfile={workdir}/flags.txt") is None


@pytest.mark.slow
def test_smoke_under_mirrored_strategy_on_two_logical_cpus(tmp_path, scalars):
    workdir = str(tmp_path / "run")
    result = run_subprocess(SMOKE, f"--workdir={workdir}", "--strategy=mirrored", "--cpu_devices=2",
                            "--mixed_precision=auto")
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = precision.resolve_precision("auto")  # this machine's answer: what the run must have used
    assert f"precision: {resolved} (--mixed_precision=auto: bfloat16 is " in result.stdout
    threads = max(1, len(os.sched_getaffinity(0)) // 2)  # the cores shared between the two logical devices
    assert (f"strategy: MirroredStrategy, 2 replica(s) in sync, this worker's devices: /job:localhost/replica:0/"
            f"task:0/device:CPU:0, /job:localhost/replica:0/task:0/device:CPU:1; threads per op: {threads}"
            in result.stdout), result.stdout[-2000:]
    first, last = first_and_last_loss(scalars, workdir)
    assert last < first


@pytest.mark.slow
def test_smoke_on_mocked_cifar10(tmp_path, run_train, scalars):
    workdir = str(tmp_path / "run")
    with tfds.testing.mock_data(num_examples=64):
        message = run_train(SMOKE, f"--workdir={workdir}", "--dataset=cifar10", f"--data_dir={tmp_path}",
                                 f"--zca_cache={tmp_path / 'zca.npz'}", "--train_steps=4", "--batch_size=16")
    assert message is None
    first, last = first_and_last_loss(scalars, workdir)
    assert last < first


@pytest.mark.slow
def test_smoke_on_mocked_imagenet_with_alexnet(tmp_path, run_train, scalars):
    workdir = str(tmp_path / "run")
    with tfds.testing.mock_data(num_examples=8):
        message = run_train(SMOKE, f"--workdir={workdir}", "--model=alexnet", "--variant=paper",
                                 "--dataset=imagenet2012", f"--data_dir={tmp_path}", "--num_classes=1000",
                                 "--batch_size=4", "--train_steps=4", "--learning_rate=0.001", "--eval_batch_size=4")
    assert message is None
    first, last = first_and_last_loss(scalars, workdir)
    assert last < first


@pytest.mark.parametrize("args, message", [
    (["--variant=resnet"], "--variant='resnet' is not one of the allcnn variants: model_c"),
    (["--dataset=cifar10_pickle", "--data_dir=/nonexistent/cifar"], "--dataset=cifar10_pickle --data_dir=/nonexist"),
    (["--dataset=mnist"], "--dataset='mnist' is invalid; valid values: digits, cifar10"),
    (["--lr_schedule=step"], "needs --lr_decay_every"),
    (["--model=alexnet", "--variant=paper"], "--dataset=digits comes at 16 or 32 pixels (blocks of its 8x8 values), "
                                             "but the model takes 224x224: train one of those sizes"),
    (["--model=alexnet", "--variant=paper", "--image_size=16"], "--image_size is an All-CNN option"),
    (["--image_size=20"], "--dataset=digits comes at 16 or 32 pixels"),
    (["--elastic_alpha=-1"], "--elastic_alpha=-1.0 is invalid; valid values are >= 0"),
    (["--eval_every_epochs=0"], "--eval_every_epochs=0 is invalid; it must be >= 1."),
    (["--log_every_steps=0"], "--log_every_steps=0 is invalid; it must be >= 1."),
    (["--train_steps=-1"], "--train_steps=-1 is invalid; it must be >= 0 (0: off)."),
    (["--profile_steps=20,10"], "--profile_steps=20,10: expected START,END"),
    (["--step_timeout_secs=-1"], "--step_timeout_secs=-1 is invalid; it must be >= 0 (0: automatic)."),
])
def test_bad_flags_exit_with_one_message_and_write_nothing(tmp_path, args, message, run_train):
    workdir = tmp_path / "run"
    assert message in run_train(SMOKE, f"--workdir={workdir}", *args)
    assert not workdir.exists()


@pytest.mark.slow
def test_workdir_of_another_model_is_refused_and_left_alone(tmp_path, run_train):
    workdir = tmp_path / "run"
    assert run_train(SMOKE, f"--workdir={workdir}", "--train_steps=1", "--eval_batch_size=360") is None
    before = sorted(p.name for p in workdir.rglob("*"))
    message = run_train(SMOKE, f"--workdir={workdir}", "--variant=strided_cnn_c")
    assert "holds a run with variant='all_cnn_c' but this run has variant='strided_cnn_c'" in message
    assert "--flagfile=" in message and sorted(p.name for p in workdir.rglob("*")) == before
    # the same layers and parameters at 16x16 would restore silently: the image size is part of the run too
    message = run_train(SMOKE, f"--workdir={workdir}", "--image_size=16")
    assert "holds a run with image_size=32 but this run has image_size=16" in message
    assert sorted(p.name for p in workdir.rglob("*")) == before


@pytest.mark.slow
def test_batch_not_divisible_by_replicas_and_unknown_model_exit_nonzero(tmp_path):
    workdir = tmp_path / "run"
    result = run_subprocess(SMOKE, f"--workdir={workdir}", "--strategy=mirrored", "--cpu_devices=2",
                            "--batch_size=15")
    assert result.returncode != 0
    assert "--batch_size=15 is not divisible by the 2 replicas" in result.stderr.strip().splitlines()[-1]
    result = run_subprocess(SMOKE, f"--workdir={workdir}", "--model=vgg")
    assert result.returncode != 0 and "--model" in result.stderr and "vgg" in result.stderr
    assert not workdir.exists()


@pytest.mark.slow
def test_digits_recipe_does_not_stall(tmp_path, run_train, scalars):
    """The stall this recipe avoids: outputs collapsing to uniform (loss ln 10 = 2.3026 exactly) with dead classes.
    Three epochs of the recipe leave chance behind."""
    workdir = str(tmp_path / "run")
    assert run_train("--flagfile=configs/digits.flags", f"--workdir={workdir}", "--epochs=3",
                          "--strategy=mirrored", "--cpu_devices=1",  # the two replicas conftest.py made
                          "--eval_batch_size=360") is None
    validation, _ = scalars(os.path.join(workdir, "validation"))
    assert validation["loss"][-1][1] < 2.25 and validation["top1_error"][-1][1] < 0.85
    _, last = first_and_last_loss(scalars, workdir)
    assert last < 2.25


def test_every_flag_is_a_config_field_with_its_default():
    """One source for each default: train.py's flags take theirs from training.config.Config and
    data.inputs.Config, and every flag but the machine's (strategy, cpu_devices) is a field of one of them."""
    import dataclasses

    from absl import flags

    import train
    from data.inputs import Config as DataConfig
    from training.config import Config

    fields = {f.name: f.default for f in dataclasses.fields(Config) if f.name != "data"}
    fields.update({f.name: f.default for f in dataclasses.fields(DataConfig) if f.name != "crops"})
    assert set(train.TRAIN_FLAGS) - set(train.MACHINE_FLAGS) == set(fields)
    for name, default in fields.items():
        flag_default = flags.FLAGS[name].default
        assert (tuple(flag_default) if isinstance(flag_default, list) else flag_default) == default, name


@pytest.mark.slow
def test_init_from_published_weights_keeps_them_and_reinitialises_another_class_count(tmp_path, run_train, capsys):
    """A 1000-class bvlc caffemodel fine-tuned on a 2-class folder of photos: with a learning rate of 1e-30 the
    checkpoint holds the file's weights but for fc8 (2 classes, re-initialised, said in the log); the rerun
    resumes from its checkpoint instead of importing again."""
    import numpy as np

    import alexnet
    from common import workdir as workdir_layout
    from data.testdata import photo_folder
    from weights import testdata
    root = photo_folder(tmp_path / "photos")
    path = tmp_path / "bvlc.caffemodel"
    file_weights = testdata.random_caffe_weights("bvlc")
    testdata.write_caffemodel(path, "bvlc", file_weights)
    workdir = tmp_path / "run"
    args = ("--model=alexnet", "--variant=bvlc", "--dataset=imagenet_folder", f"--data_dir={root}",
            f"--init_from={path}", f"--workdir={workdir}", "--batch_size=2", "--train_steps=1", "--learning_rate=1e-30",
            "--eval_batch_size=3")
    assert run_train(*args) is None
    out = capsys.readouterr().out
    assert f"from the published weights {path}; the class layer fc8 re-initialised (2 classes here" in out
    model = alexnet.build("bvlc", num_classes=2)
    workdir_layout.restore_model(model, workdir_layout.checkpoint_path(str(workdir)))
    reference = alexnet.build("bvlc", weights=str(path))
    for name in ("conv1", "conv2", "fc6", "fc7"):
        for ours, theirs in zip(model.get_layer(name).get_weights(), reference.get_layer(name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    assert model.get_layer("fc8").get_weights()[0].shape == (4096, 2)
    assert run_train(*args[:-2], "--train_steps=2", "--eval_batch_size=3") is None
    out = capsys.readouterr().out
    assert "resumed from" in out and "published weights" not in out
    bad = run_train(*args[:2], "--variant=neon", *args[2:5], f"--workdir={tmp_path / 'other'}", *args[6:])
    assert bad.startswith("train.py: error: --init_from=") and "--variant=bvlc" in bad
    assert not (tmp_path / "other").exists()


@pytest.mark.slow
def test_a_run_its_evaluation_and_export_on_another_filesystem_touch_no_local_file(tmp_path, run_train, capsys,
                                                                                  monkeypatch):
    """Everything on TensorFlow's in-memory ram:// filesystem, as on gs://: the ImageNet folder, a weights file,
    the workdir (run.json, flags.txt, the mean-image cache, checkpoints, TensorBoard) and the export; the lock says
    it cannot hold such a workdir. The evaluation of the workdir and of the export agree."""
    import numpy as np

    from common import files
    from common.files_test import copy_in
    from data.testdata import photo_folder
    from evaluation import score
    from weights import testdata
    base = "ram://train_test/shared"
    copy_in(photo_folder(tmp_path / "photos"), f"{base}/photos")
    rng = np.random.default_rng(0)
    testdata.write_neon_p(tmp_path / "allcnn.p",
                          testdata.neon_model_dict(testdata.neon_layers("allcnn", "v2.3.0", rng), "v2.3.0"))
    tf.io.gfile.copy(str(tmp_path / "allcnn.p"), f"{base}/allcnn.p")
    workdir, export = f"{base}/runs/allcnn", f"{base}/runs/allcnn/export"
    here = tmp_path / "cwd"  # a path taken for a local one ("ram:/...") would land here
    here.mkdir()
    monkeypatch.chdir(here)
    args = ("--model=allcnn", "--variant=neon", "--dataset=imagenet_folder", f"--data_dir={base}/photos",
            "--image_size=32", f"--init_from={base}/allcnn.p", f"--workdir={workdir}", "--batch_size=2",
            "--eval_batch_size=3", "--mean=image", "--num_classes=0", "--train_steps=1")
    assert run_train(*args) is None
    assert run_train(*args[:-1], f"--export_dir={export}", "--train_steps=2") is None  # resumed, mean cached
    out = capsys.readouterr().out
    assert f"warning: {workdir} cannot be locked against a second run (not a local filesystem)" in out
    assert f"resumed from {workdir}/checkpoints/ckpt-1 (step 1)" in out
    assert out.count("computing the mean image") == 1  # the second run read the first's cache from ram://
    assert {"run.json", "flags.txt", "mean_image.npy", "checkpoints", "best", "train", "validation",
            "export"} <= set(files.listdir(workdir))
    assert files.isfile(f"{export}/saved_model.pb")
    by_workdir = score.score(score.from_workdir(workdir, log=lambda line: None), batch_size=3)
    by_export = score.score(score.from_saved_model(export, {"data_dir": f"{base}/photos",
                                                              "dataset": "imagenet_folder"}, log=lambda line: None),
                            batch_size=3)
    assert by_workdir["step"] == 2 and by_workdir["examples"] == by_export["examples"] > 0
    assert by_workdir["top1_correct"] == by_export["top1_correct"]
    assert not any(here.iterdir())  # nothing written locally
