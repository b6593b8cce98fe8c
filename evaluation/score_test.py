"""evaluation/score.py's progress and speed of a scoring pass (scoring itself: evaluate_test.py)."""

import pytest

from evaluation import score


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_throughput_logs_progress_and_rates_the_pass_after_its_first_batch():
    clock, lines = Clock(), []
    throughput = score.Throughput(1000, lines.append, every=10.0, clock=clock)
    clock.now = 130.0  # the first batch traces the model: 30 s for 100 images
    throughput(100)
    assert throughput.rate() is None and lines == ["scored 100 / 1,000 images"]  # no rate from one batch
    clock.now = 134.0
    throughput(500)  # 400 images in 4 s after the first batch: too soon for another line
    assert throughput.rate() == 100.0 and len(lines) == 1
    clock.now = 144.0
    throughput(600)
    assert lines[-1] == "scored 600 / 1,000 images: 35.7 images/s, ETA 11 s"
    clock.now = 148.0
    throughput(1000)  # the last batch: no progress line; 900 images in 18 s after the first batch
    assert len(lines) == 2 and throughput.rate() == 50.0
    assert throughput.figures() == {"seconds": 48.0, "images_per_second": 50.0}
    report = dict(examples=1000, crops="ten", batch_size=100, **throughput.figures())
    assert score.speed_line(report) == ("1,000 images in 48.0 s: 50.0 images/s after the first batch of 100 "
                                        "(500.0 crops/s through the network)")


@pytest.mark.slow
def test_ten_crops_are_scored_as_the_average_of_the_models_ten_answers(tmp_path):
    """The paper's 10-crop test end to end (a .keras AlexNet on a folder of photos): the report equals the mean
    of the model's softmax over each image's ten crops, computed here one crop batch at a time."""
    import keras
    import numpy as np

    import models
    from data import imagenet
    from data.testdata import photo_folder
    from evaluation import metrics
    keras.utils.set_random_seed(0)
    model = models.build("alexnet", "caffenet", num_classes=2)
    model.save(tmp_path / "caffenet.keras")
    root = photo_folder(tmp_path / "photos")
    scorable = score.from_model_file(str(tmp_path / "caffenet.keras"), {
        "dataset": "imagenet_folder", "data_dir": str(root), "crops": "ten", "mean": "caffe"}, log=lambda line: None)
    report = score.score(scorable, batch_size=2)
    paths, labels, _ = imagenet.list_folder(str(root), "validation")
    probabilities = []
    for path in paths:
        crops = imagenet.eval_image(open(path, "rb").read(), path, 227, "ten", imagenet.MEAN_RGB["caffe"])
        probabilities.append(model(crops, training=False).numpy().mean(axis=0))
    probabilities = np.stack(probabilities)
    assert report["examples"] == len(paths) == 3 and report["crops"] == "ten"
    assert report["top1_correct"] == metrics.top_k_hits(probabilities, labels, 1)
    assert report["per_class_top1"] == {name: float(np.mean(probabilities[labels == i].argmax(-1) == i))
                                         for i, name in enumerate(scorable.inputs.class_names)}
