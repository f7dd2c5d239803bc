"""Killing a process while it saves a model never leaves a truncated model file."""

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline

from fer_classic import load_model, save_model
from fer_classic._fileio import _HOST
from fer_classic.persistence import FERModel, library_versions

# The server imports fer-classic once (and saves once, so that the savers it
# forks inherit what a first save imports); for each number k it reads it
# forks a saver that writes a model marked k. The saver's pickle writes in
# small chunks, like a slow disk, and says when it starts writing, so the test
# can kill it in the middle of the write. The model is 1 MB of incompressible
# ballast written in 64 chunks: a write as long as 4 MB in 64 chunks, with a
# quarter of the compressing and hashing before it.
SERVER = textwrap.dedent("""
    import os, pickle, sys, time
    import numpy as np
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import make_pipeline
    from fer_classic.persistence import FERModel, library_versions, save_model

    def slow_dump(obj, handle, protocol=None):
        data = pickle.dumps(obj, protocol=protocol)
        print("writing", os.getpid(), flush=True)
        for start in range(0, len(data), 1 << 14):
            handle.write(data[start:start + (1 << 14)])
            handle.flush()
            time.sleep(0.001)

    clf = DummyClassifier().fit(np.zeros((2, 1)), ["angry", "happy"])
    clf.ballast_ = np.random.default_rng(0).integers(0, 2**63, size=125_000)
    warm = {"marker": "warm-up", "image_shape": [1, 1], "versions": library_versions()}
    save_model(FERModel(make_pipeline(clf), warm), sys.argv[2])
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            pickle.dump = slow_dump
            metadata = {"marker": line.strip(), "image_shape": [1, 1], "versions": library_versions()}
            save_model(FERModel(make_pipeline(clf), metadata), sys.argv[1])
            os._exit(0)
        os.waitpid(pid, 0)
        print("reaped", flush=True)
""")


@pytest.fixture
def old_model(tmp_path):
    clf = DummyClassifier().fit(np.zeros((2, 1)), ["angry", "happy"])
    model = FERModel(make_pipeline(clf), {"marker": "old", "image_shape": [1, 1], "versions": library_versions()})
    return save_model(model, tmp_path / "model.joblib")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the test forks savers (POSIX only)")
def test_killing_a_save_20_times_never_leaves_a_truncated_file(tmp_path, old_model):
    rng = random.Random(0)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(old_model), str(tmp_path / "warm-up.joblib")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    outcomes = []
    previous = "old"
    try:
        for k in range(20):
            server.stdin.write(f"{k}\n")
            server.stdin.flush()
            word, saver = server.stdout.readline().split()
            assert word == "writing"
            time.sleep(rng.uniform(0.0, 0.1))
            with contextlib.suppress(ProcessLookupError):  # it may have finished already
                os.kill(int(saver), signal.SIGKILL)
            assert server.stdout.readline().strip() == "reaped"
            # The whole previous or the whole new model, loadable and verified by its checksum.
            marker = load_model(old_model).metadata["marker"]
            assert marker in (previous, str(k))
            outcomes.append("kept previous" if marker == previous else "new")
            previous = marker
    finally:
        server.kill()
        server.communicate()
    print(f"20 saves killed: {outcomes.count('kept previous')} left the previous file, "
          f"{outcomes.count('new')} had already replaced it")
    assert "kept previous" in outcomes  # some kills did land mid-write


def test_next_save_removes_temporaries_of_killed_saves(tmp_path, old_model):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".model.joblib.{dead}@{_HOST}.abc123.tmp"
    stale.write_bytes(b"partial")
    save_model(load_model(old_model), old_model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.joblib"]
