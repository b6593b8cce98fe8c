"""Issue #6: training survives being killed, preempted or fed bad data, and fails clearly.

kill -9 during a checkpoint write (and a second run refused while the first holds the workdir); SIGTERM/SIGINT
preemption; a damaged latest checkpoint; a non-finite loss; an unwritable or full workdir; bad images through
train.py and evaluate.py; the same seed giving the same losses; two workers on 127.0.0.1 (MultiWorkerMirroredStrategy)
equal to one worker with the same global batch, a stopped (SIGSTOP) worker and a hung one stopping the job within
the bound, naming the worker, and the restarted job resuming. Serving bad requests: training/export_test.py.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from common import workdir as workdir_layout
from data.testdata import photo_folder
from training import watchdog

pytestmark = pytest.mark.slow  # every test trains (most in subprocesses)

ROOT = os.path.dirname(os.path.abspath(__file__))
SMOKE = "--flagfile=configs/smoke.flags"

# Runs train.py with TensorFlow's checkpoint writer patched to stop in the middle of writing checkpoint number
# $STALL_AT_SAVE: the data file half written, no index, the directory's state file not yet updated. It then
# creates $STALLED and sleeps until the test kills it with SIGKILL.
STALLING_TRAIN = r"""
import os, runpy, sys, time
from tensorflow.python.checkpoint import checkpoint as checkpoint_lib

original = checkpoint_lib.Checkpoint._write

def _write(self, file_prefix, options=None):
    if "checkpoints" in file_prefix and file_prefix.endswith("ckpt-" + os.environ["STALL_AT_SAVE"]):
        with open(file_prefix + ".data-00000-of-00001", "wb") as f:
            f.write(b"\0" * 1000)
        open(os.environ["STALLED"], "w").close()
        time.sleep(600)
    return original(self, file_prefix, options=options)

checkpoint_lib.Checkpoint._write = _write
sys.argv = ["train.py"] + sys.argv[1:]
runpy.run_path("train.py", run_name="__main__")
"""


def weights(path):
    """The model variables of a checkpoint (a file prefix, or a directory: its latest)."""
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(path) if os.path.isdir(path) else path)
    return {n: reader.get_tensor(n) for n in sorted(reader.get_variable_to_shape_map()) if n.startswith("model/")}


def snapshot(directory):
    """{relative path: bytes} of every file below ``directory``."""
    return {os.path.relpath(os.path.join(root, name), directory): open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(directory) for name in names}


def latest_step(workdir):
    latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def wait_for(predicate, timeout, what, process=None):
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process ended (rc {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def start(*args, script=None, env=None):
    command = [sys.executable, "-u", "-c", script, *args] if script else [sys.executable, "-u", "train.py", *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **(env or {})))


@pytest.mark.slow
def test_kill_9_during_a_checkpoint_write_keeps_the_previous_one_and_the_rerun_ends_where_an_uninterrupted_run_does(
        tmp_path, capsys, run_train):
    # batch 128: 11 steps per epoch, so the rerun (from step 4) crosses an epoch boundary; at 16x16 (the digits'
    # values in 2x2 blocks, a quarter of the 32x32 work) because three runs of 12 such steps are the cost here
    common = [SMOKE, "--deterministic", "--batch_size=128", "--train_steps=12", "--checkpoint_every_steps=4",
              "--eval_batch_size=360", "--image_size=16"]
    whole, killed = str(tmp_path / "whole"), str(tmp_path / "killed")
    stalled = tmp_path / "stalled"
    process = start(*common, f"--workdir={killed}", script=STALLING_TRAIN,
                    env={"STALL_AT_SAVE": "8", "STALLED": str(stalled)})
    try:
        wait_for(stalled.exists, 300, "the write of checkpoint 8", process)
        # a second run on the workdir, the first still in it (stopped mid-write): refused at once, nothing written
        before = snapshot(killed)
        started = time.monotonic()
        second = subprocess.run([sys.executable, "train.py", *common, f"--workdir={killed}"], cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
        assert second.returncode != 0 and time.monotonic() - started < 60
        message = second.stderr.strip().splitlines()[-1]
        assert message.startswith(f"train.py: error: --workdir={killed} is in use by another run (PID "
                                  f"{process.pid} on {socket.gethostname()}, started ")
        assert snapshot(killed) == before
        # a reader beside it: evaluate.py scores (and exports) the last complete checkpoint, naming its step
        export = tmp_path / "export"
        reader = subprocess.run([sys.executable, "evaluate.py", f"--workdir={killed}", f"--export_dir={export}",
                                 f"--report={tmp_path / 'report.json'}"], cwd=ROOT, capture_output=True, text=True,
                                timeout=300)
        assert reader.returncode == 0, reader.stderr[-3000:]
        assert f"scoring {os.path.join(killed, 'checkpoints', 'ckpt-4')} (step 4)" in reader.stdout
        report = json.loads((tmp_path / "report.json").read_text())
        assert report["step"] == 4 and report["checkpoint"].endswith("ckpt-4") and report["examples"] == 360
        assert os.path.isfile(export / "saved_model.pb") and snapshot(killed) == before
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    directory = os.path.join(killed, "checkpoints")
    assert os.path.exists(os.path.join(directory, "ckpt-8.data-00000-of-00001"))  # the half-written one
    assert latest_step(killed) == 4 and len(weights(directory)) > 10  # the previous one: listed, intact

    capsys.readouterr()
    assert run_train(*common, f"--workdir={killed}") is None
    assert f"resumed from {os.path.join(directory, 'ckpt-4')} (step 4)" in capsys.readouterr().out
    assert run_train(*common, f"--workdir={whole}") is None
    a, b = weights(os.path.join(whole, "checkpoints")), weights(directory)
    assert latest_step(killed) == latest_step(whole) == 12 and a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.slow
def test_evaluate_in_a_loop_beside_a_training_run_never_fails_and_names_the_step_it_scored(tmp_path):
    from evaluation import score
    workdir = str(tmp_path / "run")
    # a checkpoint at every step, one kept: each save deletes the one before it, the reader's worst case
    process = start(SMOKE, f"--workdir={workdir}", "--train_steps=40", "--checkpoint_every_steps=1", "--image_size=16",
                    "--keep_checkpoints=1", "--eval_batch_size=360", "--nofigures")
    scored, restored, cli = [], [], []

    def evaluate_py_in_a_loop():  # the command line beside the run, as a user's shell loop would
        while process.poll() is None:
            cli.append(subprocess.run([sys.executable, "evaluate.py", f"--workdir={workdir}", "--batch_size=360"],
                                      cwd=ROOT, capture_output=True, text=True, timeout=300))

    try:
        wait_for(lambda: latest_step(workdir) >= 1, 300, "the first checkpoint", process)
        shell = threading.Thread(target=evaluate_py_in_a_loop)
        shell.start()
        info = workdir_layout.read_run_info(workdir)
        model = models.build(info["model"], info["variant"], num_classes=info["num_classes"])
        while process.poll() is None:
            for which in ("latest", "best"):
                try:
                    scorable = score.from_workdir(workdir, which, log=lambda line: None)
                except ValueError as err:  # best/ before the first validation: said, not a crash
                    assert which == "best" and "has no best checkpoint yet" in str(err)
                    continue
                report = score.score(scorable, batch_size=360)
                assert report["examples"] == 360 and report["checkpoint"].endswith(f"-{report['step']}")
                scored.append((which, report["step"]))
            for _ in range(50):  # the restore alone, as often as it goes: the deletions race it
                path, step = workdir_layout.restore_while_training(model, workdir)
                restored.append(step)
        out, err = process.communicate(timeout=60)
        shell.join(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 0, err[-3000:]
    assert cli
    for result in cli:
        assert result.returncode == 0, result.stderr[-3000:]
        step = int(re.search(r"^scoring \S+ckpt-(\d+) \(step \1\)$", result.stdout, re.M).group(1))
        assert f"report: {os.path.join(workdir, 'checkpoints', f'ckpt-{step}.digits-test.eval.json')}" in result.stdout
    latest = [step for which, step in scored if which == "latest"]
    assert len(set(latest)) >= 3 and latest == sorted(latest), scored  # many checkpoints, in order
    assert len(set(restored)) >= 10 and restored == sorted(restored)


# Six steps of the smoke recipe (checkpoints 3 and 6), trained once and copied for each test that starts from it.
SIX_STEPS = [SMOKE, "--train_steps=6", "--log_every_steps=1", "--eval_batch_size=360"]


@pytest.fixture(scope="module")
def six_steps(tmp_path_factory, run_train):
    workdir = tmp_path_factory.mktemp("six") / "run"
    assert run_train(*SIX_STEPS, f"--workdir={workdir}") is None
    return workdir


def copy_of(run, tmp_path):
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def test_the_same_flags_and_seed_give_the_same_losses(six_steps, tmp_path, run_train, scalars):
    workdir = tmp_path / "again"
    assert run_train(*SIX_STEPS, f"--workdir={workdir}") is None
    losses = [[v for _, v in scalars(str(run / "train"))[0]["loss"]] for run in (six_steps, workdir)]
    assert len(losses[0]) == 6 and losses[0] == losses[1]


def test_a_damaged_latest_checkpoint_is_reported_and_the_one_before_it_used(six_steps, tmp_path, capsys, run_train):
    workdir = copy_of(six_steps, tmp_path)
    data = workdir / "checkpoints" / "ckpt-6.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])  # truncated, as by a full disk or an interrupted copy
    from evaluation import score  # the evaluator says so, and what to pass
    with pytest.raises(ValueError, match=re.escape(f"--checkpoint=latest ({workdir / 'checkpoints' / 'ckpt-6'}) cannot "
                                                   "be read (") + r".+\): it is damaged, or the run writing .+ Rerun, "
                                                   r"or pass --checkpoint=PATH of another checkpoint in "):
        score.from_workdir(str(workdir), log=lambda line: None)
    capsys.readouterr()
    assert run_train(*SIX_STEPS, f"--workdir={workdir}", "--train_steps=9") is None
    out = capsys.readouterr().out
    assert f"warning: checkpoint {workdir / 'checkpoints' / 'ckpt-6'} cannot be restored" in out
    assert f"resumed from {workdir / 'checkpoints' / 'ckpt-3'} (step 3)" in out
    assert latest_step(str(workdir)) == 9


def preempt(common, signum, more_steps):
    """Start train.py, send ``signum`` once it logs a step, return the step it says it saved at."""
    process = start(*common, f"--train_steps={more_steps}", "--log_every_steps=1")
    lines = []

    def training():
        lines.append(process.stdout.readline())
        return " step " in lines[-1] and "/" in lines[-1]

    wait_for(training, 300, "a training step", process)
    sent = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    assert time.monotonic() - sent < 30
    out = "".join(lines) + out
    name = signal.Signals(signum).name
    stopped = [line for line in out.splitlines() if line.startswith(f"stopped by {name} at step ")]
    assert len(stopped) == 1, out[-2000:]
    step = int(stopped[0].split(" at step ")[1].split(" ")[0])
    assert "rerun the same command" in stopped[0]
    return step, stopped[0], out


@pytest.mark.slow
def test_preemption_by_sigterm_or_sigint_saves_at_the_next_step_exits_0_and_the_rerun_resumes(tmp_path):
    workdir = str(tmp_path / "run")
    common = [SMOKE, f"--workdir={workdir}", "--checkpoint_every_steps=0", "--eval_batch_size=360"]
    first, line, _ = preempt(common, signal.SIGTERM, 1000)
    checkpoint = os.path.join(workdir, "checkpoints", f"ckpt-{first}")
    assert f"checkpoint {checkpoint} saved" in line and latest_step(workdir) == first >= 1

    second, line, out = preempt(common, signal.SIGINT, 1000)  # the rerun resumes, and Ctrl-C stops it the same way
    assert f"resumed from {checkpoint} (step {first})" in out
    assert second > first and latest_step(workdir) == second
    assert f"checkpoint {os.path.join(workdir, 'checkpoints', f'ckpt-{second}')} saved" in line

    result = subprocess.run([sys.executable, "train.py", *common, f"--train_steps={second + 2}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resumed from {os.path.join(workdir, 'checkpoints', f'ckpt-{second}')} (step {second})" in result.stdout
    assert latest_step(workdir) == second + 2


def test_non_finite_loss_stops_naming_step_and_rate_and_keeps_the_last_good_checkpoint(tmp_path, run_train):
    workdir = tmp_path / "run"
    # lr 0.01 for 3 steps (checkpoint 3 is good), then 1e6: the loss diverges within a few steps
    message = run_train(SMOKE, f"--workdir={workdir}", "--train_steps=40", "--checkpoint_every_steps=3",
                             "--lr_schedule=multistep", "--lr_unit=steps", "--lr_milestones=3",
                             "--lr_decay_factor=1e8", "--eval_batch_size=360")
    assert message and message.startswith("train.py: error: the ")
    assert ("training loss is nan" in message or "training loss is inf" in message
            or "weights became non-finite" in message), message
    step = int(message.split(" at step ")[1].split(" ")[0].rstrip(",("))
    assert step > 3 and "learning rate 1e+06" in message and "last good checkpoint is kept" in message
    kept = latest_step(str(workdir))
    assert 3 <= kept < step
    assert all(np.isfinite(w).all() for w in weights(str(workdir / "checkpoints")).values())


def test_unwritable_or_full_workdir_fails_before_training_with_the_reason(tmp_path, monkeypatch, run_train):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    message = run_train(SMOKE, f"--workdir={blocker / 'run'}")
    assert message.startswith(f"train.py: error: --workdir={blocker / 'run'} cannot be written (") and \
        "pass another --workdir" in message

    free = shutil.disk_usage(tmp_path)._replace(free=10 * 2 ** 20)  # 10 MiB: less than the checkpoints need
    monkeypatch.setattr(shutil, "disk_usage", lambda path: free)
    workdir = tmp_path / "run"
    message = run_train(SMOKE, f"--workdir={workdir}")
    assert "has 10 MiB free but the checkpoints need about" in message and "--keep_checkpoints" in message
    assert not (workdir / "checkpoints").exists()


def test_a_failed_checkpoint_write_stops_with_the_reason_and_keeps_the_previous(six_steps, tmp_path, monkeypatch,
                                                                                run_train):
    workdir = copy_of(six_steps, tmp_path)
    before = {p.name: p.read_bytes() for p in (workdir / "checkpoints").iterdir()}

    def no_space(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", no_space)
    message = run_train(*SIX_STEPS, f"--workdir={workdir}", "--train_steps=9")
    assert "the checkpoint of step 9 could not be written" in message and "No space left on device" in message
    assert f"the previous one, {workdir / 'checkpoints' / 'ckpt-6'}, is kept" in message
    assert {p.name: p.read_bytes() for p in (workdir / "checkpoints").iterdir()} == before


@pytest.mark.slow
def test_a_bad_image_reaches_the_user_of_train_and_evaluate_as_one_message(tmp_path, run_train):
    root = photo_folder(tmp_path / "photos")
    bad = sorted((root / "train").rglob("*.JPEG"))[0]
    bad.write_bytes(bad.read_bytes()[:-200])  # truncated: no end-of-image marker
    workdir = tmp_path / "run"
    message = run_train(SMOKE, f"--workdir={workdir}", "--model=alexnet", "--variant=paper",
                        "--dataset=imagenet_folder", f"--data_dir={root}", "--num_classes=0", "--batch_size=4",
                        "--train_steps=2", "--mean=caffe")
    assert re.match(f"train.py: error: --dataset=imagenet_folder --data_dir={re.escape(str(root))}: the training "
                    r"data could not be read at step \d+: ", message), message
    assert str(bad) in message and "is not an intact JPEG or PNG image" in message and "\n" not in message

    bad_val = sorted((root / "val").rglob("*.JPEG"))[0]
    bad_val.write_bytes(b"\xff\xd8 not a JPEG")
    images = keras.Input((224, 224, 3))  # any model of AlexNet's input size will do
    keras.Model(images, keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(images))).save(tmp_path / "tiny.keras")
    evaluate = [sys.executable, "evaluate.py", f"--model_file={tmp_path / 'tiny.keras'}", "--dataset=imagenet_folder",
                f"--data_dir={root}", f"--report={tmp_path / 'report.json'}"]
    result = subprocess.run(evaluate, cwd=ROOT, capture_output=True, text=True, timeout=300)
    message = result.stderr.strip().splitlines()[-1]
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert message.startswith("evaluate.py: error: --dataset=imagenet_folder: the data could not be read: ")
    assert str(bad_val) in message and "is not an intact JPEG or PNG image" in message
    # the fix the message names: scored without the bad file, which is listed
    result = subprocess.run(evaluate + ["--skip_bad_images"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "skipped 1 unreadable image(s)" in result.stdout and str(bad_val) in result.stdout
    scored = json.loads((tmp_path / "report.json").read_text())["examples"]
    assert scored == len(list((root / "val").rglob("*.JPEG"))) - 1


# ------------------------------------------------------------------------------------------------ multi-worker
def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(*args, count=2, scripts=(), env=None):
    """``count`` train.py workers of one job on 127.0.0.1 (worker i run by ``scripts[i]`` when given); their
    addresses are ``.address`` of each process."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(count)]
    processes = []
    for i in range(count):
        script = scripts[i] if i < len(scripts) else None
        processes.append(start(*args, "--strategy=multi_worker", "--cpu_devices=1", script=script, env=dict(
            env or {}, TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}))))
        processes[-1].address = workers[i]
    return processes


# Runs train.py with worker's Python stuck (not dead: its heartbeats go on) before 0-based step $HANG_AT_STEP, as on
# a read from a hung network filesystem between two steps.
HANGING_TRAIN = r"""
import os, runpy, sys, time
from training import loop

original = loop.Trainer._step

def _step(self, iterator, step, epoch, stop):
    if step == int(os.environ["HANG_AT_STEP"]):
        time.sleep(3600)
    return original(self, iterator, step, epoch, stop)

loop.Trainer._step = _step
sys.argv = ["train.py"] + sys.argv[1:]
runpy.run_path("train.py", run_name="__main__")
"""


def finish(processes, timeout=300):
    results = [p.communicate(timeout=timeout) for p in processes]
    return [(p.returncode, out, err) for p, (out, err) in zip(processes, results)]


@pytest.mark.slow
def test_two_workers_match_one_worker_only_the_chief_writes_a_stopped_worker_stops_the_job_and_it_resumes(tmp_path):
    # The digits recipe, shortened: global batch 32 as 2 workers x 16, or one process with 2 replicas x 16.
    common = ["--flagfile=configs/digits.flags", "--checkpoint_every_steps=2", "--eval_batch_size=360",
              "--log_every_steps=1"]
    single, multi = str(tmp_path / "single"), str(tmp_path / "multi")
    reference = start(*common, f"--workdir={single}", "--train_steps=6", "--strategy=mirrored", "--cpu_devices=2")
    rc, out, err = finish([reference])[0]
    assert rc == 0, err[-3000:]

    # a worker stops (SIGSTOP: alive, silent) once the chief has checkpoint 2: the chief stops within the bound
    # (the coordination service's heartbeats: measured 8-10 s), naming it, not a hang
    workers = start_workers(*common, f"--workdir={multi}", "--train_steps=1000", "--step_timeout_secs=60")
    try:
        wait_for(lambda: latest_step(multi) >= 2, 300, "the chief's checkpoint 2", workers[0])
        workers[1].send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        _, err = workers[0].communicate(timeout=120)
        waited = time.monotonic() - stopped
    finally:
        for p in workers:
            p.kill()
            p.communicate()
    message = err.strip().splitlines()[-1]
    assert workers[0].returncode != 0 and waited < 60, (waited, err[-3000:])
    assert re.fullmatch(r"train.py: error: a worker of this 2-worker job stopped answering at step \d+ \(worker 1 "
                        rf"\({workers[1].address}\) stopped sending heartbeats \(dead, stopped or cut off\)\): the "
                        r"job stops\. The last checkpoint is .*/checkpoints/ckpt-\d+; restart every worker with the "
                        r"same command to resume from it\.", message), message
    stopped_at = latest_step(multi)

    # the restarted job resumes from the chief's last checkpoint and finishes on both workers
    results = finish(start_workers(*common, f"--workdir={multi}", "--train_steps=6",
                                   f"--export_dir={tmp_path / 'export'}"))
    for rc, out, err in results:
        assert rc == 0, err[-3000:]
        assert f"resumed from {os.path.join(multi, 'checkpoints', f'ckpt-{stopped_at}')}" in out
    fingerprints = [[line for line in out.splitlines() if line.startswith("weights fingerprint: ")]
                    for _, out, _ in results]
    assert len(fingerprints[0]) == 1 and fingerprints[0] == fingerprints[1]  # the same weights on both workers

    a, b = weights(os.path.join(single, "checkpoints")), weights(os.path.join(multi, "checkpoints"))
    assert latest_step(single) == latest_step(multi) == 6 and a.keys() == b.keys()
    # The all-reduce sums in another order (a gRPC ring, not one process): after 6-9 steps the weights differ by
    # ~1e-5 (measured), against updates of ~1e-3; a different dropout mask or batch would differ by the update.
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-3, atol=5e-5, err_msg=name)
    # only the chief wrote: its checkpoints, summaries and export; no worker copies left behind
    assert sorted(os.listdir(multi)) == ["best", "checkpoints", "flags.txt", "lock", "run.json", "train", "validation"]
    assert len(os.listdir(os.path.join(multi, "train"))) == 2  # one event file per run (the two attempts)
    assert sorted(os.listdir(tmp_path)) == ["export", "multi", "single"]


@pytest.mark.slow
def test_a_hung_worker_stops_the_job_within_the_bound_naming_it_and_leaves_itself(tmp_path):
    # worker 1's Python hangs before step 6 (its heartbeats go on): the chief's step 6 waits past the bound
    common = ["--flagfile=configs/digits.flags", "--checkpoint_every_steps=0", "--eval_batch_size=360",
              "--train_steps=1000", f"--workdir={tmp_path / 'run'}", "--step_timeout_secs=8", "--nofigures"]
    workers = start_workers(*common, scripts=(None, HANGING_TRAIN), env={"HANG_AT_STEP": "5"})
    try:
        results = finish(workers, timeout=240)
    finally:
        for p in workers:
            p.kill()
    said = f"worker 1 ({workers[1].address}) did not reach step 6 within 8 s (--step_timeout_secs=8)"
    (chief_rc, _, chief_err), (hung_rc, _, hung_err) = results
    assert chief_rc != 0 and chief_err.strip().splitlines()[-1] == (
        f"train.py: error: a worker of this 2-worker job stopped answering at step 6 ({said}): the job stops. "
        "No checkpoint was written yet; restart every worker with the same command to start again.")
    # the hung worker cannot raise: its watch ends it once the grace has passed
    assert hung_rc == 1 and hung_err.strip().splitlines()[-1] == (
        f"train.py: error: a worker of this 2-worker job stopped answering at step 6 ({said}): the job stops. "
        "No checkpoint was written yet; restart every worker with the same command to start again. (this worker did "
        f"not end by itself within {watchdog.GRACE_SECS:g} s of the stop)")
