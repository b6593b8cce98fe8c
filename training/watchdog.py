"""How a multi-worker job notices a peer that stopped: which worker, in one sentence (issue #22).

Two mechanisms, one per way a worker can stop:

- A worker that died or stopped running (``kill -9``, SIGSTOP, a machine gone, a network partition) stops sending
  the heartbeats of TensorFlow's coordination service, which the ``MultiWorkerMirroredStrategy`` starts; the
  service's leader (the chief) declares it unhealthy after its heartbeat timeout (TensorFlow's default, 10 s:
  measured, a SIGSTOPped worker of the digits recipe stopped the job 8 s later, 2026-12-03) and aborts every
  worker's collectives. ``peer_failure`` names the worker from that error's text.
- A worker whose process still runs but makes no progress (a read from a hung network filesystem, a deadlock)
  keeps sending heartbeats, and its peers would wait in the step's all-reduce for ever. ``StepWatch`` bounds that
  wait: a step that takes longer than ``--step_timeout_secs`` (0: ``automatic_bound``, ``MULTIPLE`` times the
  median of the run's recent steps, at least ``FLOOR_SECS``) stops the job, naming the workers that never reached
  the step (each worker, once its step is slow, says in the service's key-value store that it is waiting), through
  ``report_error_to_cluster``: every worker's collectives abort with the same sentence. A worker stuck outside its
  step (the hung one) sees the stop in the store and leaves ``GRACE_SECS`` later by ``os._exit``.

The first step of each attempt is not bounded: it waits for every worker to load its data and trace the step,
which legitimately differ by minutes (an ImageNet folder listed on a slow filesystem); a dead or stopped worker is
still caught there by the heartbeats.
"""

import collections
import contextlib
import os
import re
import statistics
import sys
import threading
import time

FLOOR_SECS = 300.0  # the automatic bound's floor: a chief's checkpoint write or figures, which its peers wait for
MULTIPLE = 20  # the automatic bound: this many times the median step
RECENT = 100  # steps the median is taken over
GRACE_SECS = 5.0  # how long a worker stuck outside its step has to end by itself once the job stops
POLL_SECS = 1.0
PREFIX = "step_watch"
STOP_KEY = f"{PREFIX}/stop"
SEEN_KEY = f"{PREFIX}/seen"  # each worker that read the stop says so here
LINGER_SECS = 5.0  # how long the worker that stopped the job waits for the others to read the stop
UNREACHABLE_POLLS = 3  # the store unreachable this many polls in a row (3 s): the job is over, not a hiccup
MARK = "step watch: "  # begins the sentence a StepWatch reports to the cluster

_TASK = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


def automatic_bound(durations):
    """The bound on a step from the recent steps' durations (seconds): ``MULTIPLE`` times their median, at least
    ``FLOOR_SECS``."""
    return max(FLOOR_SECS, MULTIPLE * statistics.median(durations)) if durations else FLOOR_SECS


def worker_name(job, index, cluster):
    """``worker 1 (host:port)``, or ``the chief (host:port)``, from ``TF_CONFIG``'s cluster."""
    addresses = cluster.get(job, [])
    address = f" ({addresses[index]})" if index < len(addresses) else ""
    return f"the chief{address}" if job == "chief" else f"{job} {index}{address}"


def peer_failure(text, cluster):
    """What a collective's error ``text`` says about the peer that failed, as a short clause naming it (``worker 1
    (127.0.0.1:2222) stopped sending heartbeats``), or None when it names none. ``cluster`` is TF_CONFIG's."""
    mark = text.find(MARK)
    if mark >= 0:
        return text[mark + len(MARK):].splitlines()[0].strip()
    heartbeats = re.search(r"unhealthy \(stopped sending heartbeats\):\s*((?:/job:\w+/replica:\d+/task:\d+\s*)+)",
                           text)
    if heartbeats:
        names = [worker_name(job, int(i), cluster) for job, i in _TASK.findall(heartbeats.group(1))]
        return f"{' and '.join(names)} stopped sending heartbeats (dead, stopped or cut off)"
    return None


class Cluster:
    """The coordination service of this process's multi-worker job: its key-value store and its error reporting
    (TensorFlow's eager context; what ``StepWatch`` needs, kept apart so that tests can pass another)."""

    def __init__(self):
        from tensorflow.python.eager import context  # the only API for the service's store: not in tf.*
        self._context = context.context()

    def put(self, key, value):
        self._context.set_config_key_value(key, value)

    def get(self, key):
        """The value of ``key``, or None when it is not set (within 0.1 s); raises when the service is gone."""
        from tensorflow.python.framework import errors
        try:
            return self._context.get_config_key_value(key, timeout_in_ms=100)
        except errors.DeadlineExceededError:  # not set
            return None

    def report(self, message):
        from tensorflow.python.framework import errors
        self._context.report_error_to_cluster(errors.UNAVAILABLE, message)


class StepWatch:
    """``with StepWatch(worker, job, cluster_spec, timeout) as watch: ... with watch.step(n): <train step n>``.

    ``worker`` is this process's task index in ``job``; ``cluster_spec`` TF_CONFIG's cluster (names for the
    message); ``timeout`` the bound in seconds (0: ``automatic_bound``). ``fired`` holds the sentence once the job
    was stopped (by this worker or another). ``describe(reason, step)`` makes the message a worker stuck outside its
    step leaves with (``step``: 1-based, the one after the last it finished). ``service`` (a ``Cluster``) and
    ``exit`` are for tests."""

    def __init__(self, worker, job, cluster_spec, timeout=0.0, log=print, describe=None, service=None, exit=None):
        self.worker, self.job, self.cluster_spec, self.timeout, self.log = worker, job, cluster_spec, timeout, log
        self.describe = describe or (lambda reason, step: f"step {step:,}: {reason}")
        self.service = service
        self._exit = exit or _exit
        self._finished = 0  # steps finished, for the message
        self._durations = collections.deque(maxlen=RECENT)
        self._lock = threading.Condition()
        self._step = None  # (number, started, bound) while a bounded step runs
        self._published = None
        self._closed = False
        self._stopped_at = None  # when the job was stopped, for the grace period
        self._unreachable = 0  # polls in a row that could not reach the store
        self.fired = None
        self._fired_here = False
        self._thread = threading.Thread(target=self._watch, name="step-watch", daemon=True)

    def __enter__(self):
        self.service = self.service or Cluster()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        # not for ever: a call to a store whose host (the chief) is stopped can block, and the thread is a daemon
        self._thread.join(timeout=2 * POLL_SECS)
        if self._fired_here:  # the store lives in the chief's process: keep it until the others have read the stop
            deadline = time.monotonic() + LINGER_SECS
            others = self._others()
            while others and time.monotonic() < deadline:
                others = [(job, i) for job, i in others if self._get(f"{SEEN_KEY}/{job}/{i}") is None]
                time.sleep(POLL_SECS / 10)

    def bound(self):
        return self.timeout or automatic_bound(self._durations)

    @contextlib.contextmanager
    def step(self, number, bounded=True):
        """Bound (0-based) step ``number`` unless ``bounded`` is false (the first step of an attempt)."""
        started = time.monotonic()
        with self._lock:
            self._step = (number, started, self.bound()) if bounded else None
        try:
            yield
        finally:
            with self._lock:
                self._step = None
                self._finished = number + 1
            self._durations.append(time.monotonic() - started)

    # ------------------------------------------------------------------------------------------ the thread
    def _watch(self):
        while True:
            with self._lock:
                self._lock.wait(POLL_SECS)
                if self._closed:
                    return
                current = self._step
            now = time.monotonic()
            if self.fired is None:
                if current:
                    try:
                        self._check(current, now)
                    except Exception:  # noqa: BLE001  the store failed: _listen tells a hiccup from a lost job
                        pass
                if self.fired is None:
                    self._listen(now)
            elif self._stopped_at is not None and now - self._stopped_at > GRACE_SECS:
                reason = peer_failure(self.fired, self.cluster_spec) or self.fired
                self._exit(f"{self.describe(reason, self._finished + 1)} (this worker did not end by itself within "
                           f"{GRACE_SECS:g} s of the stop)")
                return

    def _listen(self, now):
        """Whether another worker stopped the job (its sentence in the store), or the store's host (the chief) is
        gone; either way this worker's main thread has ``GRACE_SECS`` to end by itself."""
        try:
            stop = self.service.get(STOP_KEY)
            self._unreachable = 0
        except Exception as err:  # noqa: BLE001  the service cannot be reached: for a few polls, the job is over
            self._unreachable += 1
            if self._unreachable < UNREACHABLE_POLLS:
                return
            stop = (peer_failure(str(err), self.cluster_spec)
                    or f"the job's coordination service cannot be reached ({str(err).splitlines()[0][:200]})")
        if stop is not None:
            self.fired, self._stopped_at = stop, now
            with contextlib.suppress(Exception):  # noqa: BLE001  for the worker that stopped the job (it lingers)
                self.service.put(f"{SEEN_KEY}/{self.job}/{self.worker}", "seen")

    def _get(self, key):
        try:
            return self.service.get(key)
        except Exception:  # noqa: BLE001  the service is gone: nothing more to read
            return "gone"

    def _others(self):
        return [(job, i) for job in ("chief", "worker") for i in range(len(self.cluster_spec.get(job, [])))
                if (job, i) != (self.job, self.worker)]

    def _check(self, current, now):
        number, started, bound = current
        waited = now - started
        if waited > bound / 2 and self._published != number:  # say that this worker is here, waiting
            self._published = number
            self.service.put(self._key(number, self.job, self.worker), "waiting")
        if waited <= bound:
            return
        missing = [worker_name(job, i, self.cluster_spec) for job, i in self._others()
                   if self.service.get(self._key(number, job, i)) is None]
        seconds = f"{bound:,.0f} s" if bound >= 10 else f"{bound:.2g} s"
        flag = f"--step_timeout_secs{'=' + format(self.timeout, 'g') if self.timeout else ': automatic'}"
        if missing:
            self.fired = (f"{MARK}{' and '.join(missing)} did not reach step {number + 1:,} within {seconds} "
                          f"({flag})")
        else:
            self.fired = (f"{MARK}step {number + 1:,} did not finish within {seconds} ({flag}), though every "
                          "worker reached it: one is stuck inside it (its input pipeline or its device)")
        self._stopped_at, self._fired_here = now, True
        self.log(f"error: {self.fired[len(MARK):]}; stopping the job")
        self.service.put(STOP_KEY, self.fired)
        self.service.report(self.fired)

    @staticmethod
    def _key(number, job, index):
        return f"{PREFIX}/{number}/{job}/{index}"


def _exit(message):
    """End this process at once (its main thread is stuck), with ``message`` as the program's error line."""
    print(f"{os.path.basename(sys.argv[0] or 'python')}: error: {message}", file=sys.stderr, flush=True)
    os._exit(1)
