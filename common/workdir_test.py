"""One run per workdir: the lock, its holder's name in the refusal, and its release."""

import os
import socket

import pytest

from common import workdir


def test_a_second_holder_is_refused_with_the_first_named_and_the_lock_goes_with_the_first(tmp_path):
    path = str(tmp_path / "run")
    with workdir.exclusive(path, log=lambda *_: None):
        before = open(os.path.join(path, workdir.LOCK_FILE), "rb").read()
        with pytest.raises(workdir.WorkdirInUse, match=rf"is in use by another run \(PID {os.getpid()} on "
                                                         rf"{socket.gethostname()}, started 20"):
            with workdir.exclusive(path, log=lambda *_: None):
                pass
        assert open(os.path.join(path, workdir.LOCK_FILE), "rb").read() == before  # the refused one wrote nothing
    with workdir.exclusive(path, log=lambda *_: None):  # released
        pass


def test_a_filesystem_that_cannot_lock_is_said_and_the_run_goes_on(tmp_path):
    said = []
    with workdir.exclusive("gs://bucket/run", log=said.append):
        pass
    assert said and "cannot be locked against a second run (not a local filesystem)" in said[0]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"cannot be written .*pass another --workdir"):
        with workdir.exclusive(str(blocker / "run")):
            pass
