"""Our training step against PyTorch's on the same machine, interleaved round by round (optional tooling:
``pip install torch==2.13.0``; the project does not depend on it).

    python tools/torch_peer.py --model=alexnet [--precision=mixed_bfloat16] [--rounds=6]
    python tools/torch_peer.py --model=allcnn --rounds=20 [--cpu_devices=2]
    python tools/torch_peer.py --model=alexnet --inference --batch_size=128     # evaluate.py's forward pass
    python tools/torch_peer.py --model=alexnet --inference --batch_size=1 --rounds=100   # latency

The peer is the same architecture and the same SGD step (momentum 0.9, weight decay 5e-4, softmax cross-entropy) written
in PyTorch, in its faster memory layout on this CPU (NCHW for the grouped AlexNet, channels_last for All-CNN-C:
EXPERIMENTS.md, 2026-11-22, "Project performance notes"), with ``torch.autocast(bfloat16)`` for ``mixed_bfloat16``. The
targets for its ratios are in EXPERIMENTS.md, "Targets". Each round runs one of our iterations (benchmark.py's, i.e.
train.py's step) and one of PyTorch's; the last line is a JSON object with both rates, the ratio of their medians and
the median of the rounds' own ratios (each round's two steps ran back to back, so a slow spell of a shared machine
cancels out of it).

PyTorch runs in a process of its own, driven step by step through a pipe: in one process the two frameworks' thread
pools competed (the one that had just finished kept its threads spinning while the other ran); measured 2026-12-03,
PyTorch's All-CNN-C bfloat16 step took 840-1,400 ms beside TensorFlow in one process and 680-750 ms alone.
"""

import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_enum("model", "alexnet", ["alexnet", "allcnn"], "alexnet: the paper's variant; allcnn: All-CNN-C.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"], "Ours: Keras policy; PyTorch: autocast.")
flags.DEFINE_integer("batch_size", 128, "Images per step.")
flags.DEFINE_integer("cpu_devices", 1, "Ours: replicas side by side on the CPU (as benchmark.py --cpu_devices).")
flags.DEFINE_integer("rounds", 6, "Timed rounds (one step of each per round).")
flags.DEFINE_integer("warmup", 2, "Rounds run first and ignored.")
flags.DEFINE_bool("inference", False, "Time the forward pass in inference mode instead of the training step: ours as "
                  "evaluate.py runs it (model(x, training=False), compiled), PyTorch's net.eval() under "
                  "torch.inference_mode(); --batch_size=1 for latency (the median and the 99th percentile).")
flags.DEFINE_bool("serve", False, "Internal: be the PyTorch process (read 'step' lines, answer with seconds).")


def torch_alexnet_paper(torch):
    """Krizhevsky et al. 2012 as alexnet/model.py's ``paper``: conv1 padded (0, 3) at 224, groups=2 on conv2/4/5,
    LRN(5, alpha 1e-4, beta .75, k 2) after conv1/conv2 (torch divides alpha by the size: pass 5e-4), pools 3/2."""
    nn = torch.nn
    lrn = lambda: nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)  # noqa: E731
    return nn.Sequential(
        nn.ZeroPad2d((0, 3, 0, 3)), nn.Conv2d(3, 96, 11, 4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 1000))


def torch_all_cnn_c(torch):
    """Springenberg et al. 2014, All-CNN-C as allcnn/model.py's ``all_cnn_c`` (the last 3x3 conv unpadded)."""
    nn = torch.nn
    layers = [nn.Dropout(0.2)]
    channels = 3
    for width in (96, 192):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1),
                   nn.ReLU(), nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(), nn.Dropout(0.5)]
        channels = width
    layers += [nn.Conv2d(192, 192, 3), nn.ReLU(), nn.Conv2d(192, 192, 1), nn.ReLU(), nn.Conv2d(192, 10, 1),
               nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


def torch_net(torch, model_name, batch_size):
    """The network in its faster layout on this CPU, a random batch and labels for it."""
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    torch.manual_seed(0)
    if model_name == "alexnet":
        net, size, classes, layout = torch_alexnet_paper(torch), 224, 1000, torch.contiguous_format
    else:
        net, size, classes, layout = torch_all_cnn_c(torch), 32, 10, torch.channels_last
    net = net.to(memory_format=layout)
    images = torch.randn(batch_size, 3, size, size).to(memory_format=layout)
    return net, images, torch.randint(0, classes, (batch_size,))


def torch_forward(model_name, batch_size, precision):
    """PyTorch's inference: eval mode (dropout off), no autograd, autocast(bfloat16) for mixed_bfloat16."""
    import torch

    net, images, _ = torch_net(torch, model_name, batch_size)
    net.eval()

    def forward():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                     enabled=precision == "mixed_bfloat16"):
            return float(net(images)[0, 0])

    return forward


def torch_step(model_name, batch_size, precision):
    import torch

    net, images, labels = torch_net(torch, model_name, batch_size)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "mixed_bfloat16"):
            loss = loss_fn(net(images), labels)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def ours_step(model_name, batch_size, precision, cpu_devices=1, inference=False):
    import keras

    import models
    from training import distribute, inference as inference_lib, phases

    strategy = distribute.side_by_side_strategy(cpu_devices)
    keras.mixed_precision.set_global_policy(precision)
    family, variant = ("alexnet", "paper") if model_name == "alexnet" else ("allcnn", "all_cnn_c")
    with strategy.scope():
        model = models.build(family, variant, num_classes=1000 if family == "alexnet" else 10)
    if inference:
        return inference_lib.forward(model, batch_size)
    return phases.training_phases(model, batch_size, mixed_precision=precision, strategy=strategy)["iteration"]


def serve(model_name, batch_size, precision, inference=False, stdin=sys.stdin, stdout=sys.stdout):
    """The PyTorch side: build the step (or the inference forward pass), say ``ready <torch version>``, then run one
    per ``step`` line read and answer with its duration in seconds, until the input ends."""
    import torch

    step = (torch_forward if inference else torch_step)(model_name, batch_size, precision)
    print("ready", torch.__version__, file=stdout, flush=True)
    for line in stdin:
        if line.strip() != "step":
            break
        start = time.perf_counter()
        step()
        print(time.perf_counter() - start, file=stdout, flush=True)


class PeerProcess:
    """PyTorch's step in a child process (``--serve``); calling the object runs one step there and waits for it."""

    def __init__(self, model_name, batch_size, precision, inference=False):
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", f"--model={model_name}",
             f"--batch_size={batch_size}", f"--precision={precision}", f"--inference={inference}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.process.stdout.readline().split()
        if ready[:1] != ["ready"]:
            raise RuntimeError("the PyTorch process did not start (is torch installed? pip install torch==2.13.0)")
        self.torch_version = ready[1]
        self.durations = []  # each step's own time in the child, without the pipe's round trip

    def __call__(self):
        self.process.stdin.write("step\n")
        self.process.stdin.flush()
        self.durations.append(float(self.process.stdout.readline()))
        return self.durations[-1]

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def main(argv):
    del argv
    f = flags.FLAGS
    if f.serve:
        return serve(f.model, f.batch_size, f.precision, f.inference)
    peer = PeerProcess(f.model, f.batch_size, f.precision, f.inference)
    try:
        steps = {"ours": ours_step(f.model, f.batch_size, f.precision, f.cpu_devices, f.inference), "pytorch": peer}
        from training import phases

        times = phases.time_rounds(steps, f.rounds, f.warmup)
        times["pytorch"] = peer.durations[f.warmup:]  # its own clock: the pipe's ~0.1 ms matters at batch 1
    finally:
        peer.close()
    rates = {name: f.batch_size / statistics.median(t) for name, t in times.items()}
    what = "inference forward pass" if f.inference else "training step"
    # each round's two steps ran back to back, so their ratio is paired: a slow spell of the machine cancels out
    paired = statistics.median(p / o for o, p in zip(times["ours"], times["pytorch"]))
    p99 = {name: float(np.percentile(t, 99)) for name, t in times.items()}
    for name in steps:
        print(f"{name:8s} {rates[name]:7.1f} images/s (median of {f.rounds} rounds; "
              f"{min(times[name]) * 1e3:.1f}-{max(times[name]) * 1e3:.1f} ms per {what}; median "
              f"{statistics.median(times[name]) * 1e3:.2f} ms, 99th percentile {p99[name] * 1e3:.2f} ms)")
    print(f"ours / pytorch = {rates['ours'] / rates['pytorch']:.2f} (ratio of the medians), {paired:.2f} (median "
          f"of the rounds' ratios)  ({f.model}, {what}, {f.precision}, batch {f.batch_size}, ours on "
          f"{f.cpu_devices} replica(s), torch {peer.torch_version})")
    print(json.dumps({"model": f.model, "inference": f.inference, "precision": f.precision,
                      "batch_size": f.batch_size, "rounds": f.rounds,
                      "ours_ms": {"median": statistics.median(times["ours"]) * 1e3, "p99": p99["ours"] * 1e3},
                      "pytorch_ms": {"median": statistics.median(times["pytorch"]) * 1e3,
                                     "p99": p99["pytorch"] * 1e3},
                      "cpu_devices": f.cpu_devices, "ours_images_per_second": rates["ours"],
                      "pytorch_images_per_second": rates["pytorch"], "ratio": rates["ours"] / rates["pytorch"],
                      "paired_ratio": paired, "torch": peer.torch_version}))


if __name__ == "__main__":
    app.run(main)
