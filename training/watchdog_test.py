"""training/watchdog.py: the bound on a step, who is named, and the worker stuck outside its step leaving.
Two real workers on 127.0.0.1 (a SIGSTOPped one, a hung one): reliability_test.py."""

import threading
import time

import pytest

from training import watchdog

CLUSTER = {"worker": ["127.0.0.1:2222", "127.0.0.1:2223", "127.0.0.1:2224"]}

# TensorFlow 2.21's text when the coordination service's heartbeats of a SIGSTOPped worker stop (captured here)
HEARTBEATS = ("Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks are unhealthy "
              "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed. Check the task "
              "logs for an earlier error, or scheduler events (e.g. preemption, eviction) to debug further.\n")


class Store:
    """The coordination service's key-value store and error reporting, shared by the watches of one test."""

    def __init__(self):
        self.values, self.reported, self.gone = {}, [], None

    def put(self, key, value):
        self.values[key] = value

    def get(self, key):
        if self.gone:
            raise RuntimeError(self.gone)
        return self.values.get(key)

    def report(self, message):
        self.reported.append(message)


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(watchdog, "POLL_SECS", 0.02)
    monkeypatch.setattr(watchdog, "GRACE_SECS", 0.3)
    monkeypatch.setattr(watchdog, "LINGER_SECS", 0.2)


def watch(worker, store, timeout=0.4, exits=None):
    """Worker ``worker``'s watch; what it would exit the process with goes to ``exits`` (a list)."""
    return watchdog.StepWatch(worker, "worker", CLUSTER, timeout, log=lambda line: None, service=store,
                              describe=lambda reason, step: f"stopped at step {step}: {reason}",
                              exit=(exits if exits is not None else []).append)


def wait_until(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_the_automatic_bound_is_a_multiple_of_the_median_step_with_a_floor():
    assert watchdog.automatic_bound([]) == watchdog.FLOOR_SECS
    assert watchdog.automatic_bound([0.1, 0.2, 30.0]) == watchdog.FLOOR_SECS  # 20 x 0.2 s < 300 s
    assert watchdog.automatic_bound([20.0, 16.0, 1.0, 18.0]) == watchdog.MULTIPLE * 17.0  # 340 s


def test_the_failed_peer_is_named_from_tensorflows_text_or_the_watchs_own_sentence():
    assert watchdog.peer_failure(HEARTBEATS, CLUSTER) == \
        "worker 1 (127.0.0.1:2223) stopped sending heartbeats (dead, stopped or cut off)"
    two = HEARTBEATS.replace("task:1\n", "task:1\n/job:chief/replica:0/task:0\n", 1)
    assert watchdog.peer_failure(two, {"chief": ["10.0.0.1:1"], **CLUSTER}) == \
        "worker 1 (127.0.0.1:2223) and the chief (10.0.0.1:1) stopped sending heartbeats (dead, stopped or cut off)"
    sentence = "Collective ops is aborted by: Error reported from /job:worker/task:0: step watch: worker 2 did not " \
               "reach step 6\nThe error could be from a previous operation."
    assert watchdog.peer_failure(sentence, CLUSTER) == "worker 2 did not reach step 6"
    assert watchdog.peer_failure("Socket closed", CLUSTER) is None


def test_a_step_past_the_bound_stops_the_job_naming_the_workers_that_never_reached_it():
    store = Store()
    with watch(0, store) as chief, watch(1, store) as waiting:  # worker 1 reaches step 6 and waits; 2 never does
        for number in (4, 5):
            started = time.monotonic()
            with chief.step(number), waiting.step(number):
                if number == 5:
                    assert wait_until(lambda: store.reported, 3)
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 1.5  # within the bound and a poll or two
    assert store.reported[0] == (watchdog.MARK + "worker 2 (127.0.0.1:2224) did not reach step 6 within 0.4 s "
                                 "(--step_timeout_secs=0.4)")
    assert store.values[watchdog.STOP_KEY] in store.reported and chief.fired in store.reported


def test_every_worker_inside_the_step_is_said_and_the_first_step_is_not_bounded():
    store = Store()
    watches = [watch(i, store) for i in range(3)]
    for w in watches:
        w.__enter__()
    try:
        with watches[0].step(0, bounded=False):
            time.sleep(0.6)  # past the bound: the first step of an attempt is not bounded
        assert not store.reported
        steps = [w.step(1) for w in watches]
        for s in steps:
            s.__enter__()
        assert wait_until(lambda: store.reported, 3)
        assert "step 2 did not finish within 0.4 s (--step_timeout_secs=0.4), though every worker reached it" in \
            store.reported[0]
        for s in steps:
            s.__exit__(None, None, None)
    finally:
        for w in watches:
            w.__exit__(None, None, None)


def test_a_worker_stuck_outside_its_step_leaves_after_the_grace_with_the_sentence():
    store, exits = Store(), []
    with watch(1, store, exits=exits) as stuck:
        with stuck.step(4):
            pass
        store.put(watchdog.STOP_KEY, watchdog.MARK + "worker 1 (127.0.0.1:2223) did not reach step 6 within 20 s")
        assert wait_until(lambda: exits, 3)
    assert exits == ["stopped at step 6: worker 1 (127.0.0.1:2223) did not reach step 6 within 20 s (this worker did "
                     "not end by itself within 0.3 s of the stop)"]


def test_a_worker_that_ends_by_itself_within_the_grace_is_not_exited_and_a_lost_service_stops_it_too():
    store, exits = Store(), []
    with watch(1, store, exits=exits) as healthy:
        store.gone = "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:2222"
        assert wait_until(lambda: healthy.fired, 3)
        assert healthy.fired.startswith("the job's coordination service cannot be reached (failed to connect")
    time.sleep(0.5)
    assert exits == []  # it closed its watch (its run ended) within the grace


def test_a_store_unreachable_for_one_poll_is_a_hiccup_not_the_end():
    store, exits = Store(), []
    with watch(1, store, exits=exits) as healthy:
        store.gone = "UNAVAILABLE: connection reset"
        time.sleep(watchdog.POLL_SECS * (watchdog.UNREACHABLE_POLLS - 1.5))  # fewer polls in a row than it takes
        store.gone = None
        time.sleep(10 * watchdog.POLL_SECS)
        assert healthy.fired is None
    assert exits == []


def test_the_watch_thread_ends_with_the_block():
    before = threading.active_count()
    with watch(0, Store(), timeout=100):
        assert threading.active_count() == before + 1
    assert threading.active_count() == before


def test_a_store_call_that_never_returns_does_not_hold_the_process_at_its_end():
    class Blocked(Store):
        def put(self, key, value):  # as a call to a store on a SIGSTOPped chief's host can
            threading.Event().wait()

    blocked = watch(1, Blocked(), timeout=0.05)
    blocked.__enter__()
    with blocked.step(3):
        time.sleep(0.2)  # past half the bound: the thread's put blocks
    started = time.monotonic()
    blocked.__exit__(None, None, None)
    assert time.monotonic() - started < 1.0 and blocked._thread.daemon


def test_the_worker_that_stopped_the_job_keeps_the_store_until_the_others_have_read_the_stop(monkeypatch):
    monkeypatch.setattr(watchdog, "LINGER_SECS", 3.0)
    store, exits = Store(), []
    stuck = [watch(i, store, exits=exits).__enter__() for i in (1, 2)]  # their main threads are elsewhere
    chief = watch(0, store).__enter__()
    with chief.step(3):
        assert wait_until(lambda: store.reported, 3)
    assert "worker 1 (127.0.0.1:2223) and worker 2 (127.0.0.1:2224) did not reach step 4" in store.reported[0]
    started = time.monotonic()
    chief.__exit__(None, None, None)  # its process would now end, and the store with it
    assert time.monotonic() - started < 1.5  # not the whole 3 s: both read the stop first
    assert {key for key in store.values if key.startswith(watchdog.SEEN_KEY)} == {
        f"{watchdog.SEEN_KEY}/worker/1", f"{watchdog.SEEN_KEY}/worker/2"}
    assert wait_until(lambda: len(exits) == 2, 3)
    for w in stuck:
        w.__exit__(None, None, None)
