"""Fixtures: real upstream processes and real rampart processes, stopped by PID."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402


class Stack:
    """Processes started for one test; torn down in reverse order."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.processes = []

    def upstream(self, name="app", port=0, extra_args=()):
        upstream = helpers.Upstream(self.workdir, name, port=port, extra_args=extra_args)
        self.processes.append(upstream)
        return upstream

    def rampart_args(self, args, port, ready=True):
        rampart = helpers.Rampart(self.workdir, args, port, ready=ready)
        self.processes.append(rampart)
        return rampart

    def write(self, name, text):
        path = self.workdir / name
        path.write_text(text)
        return path

    def rampart(self, config_text, port, ready=True):
        path = self.write(f"rampart-{port}.yaml", config_text)
        return self.rampart_args(["serve", "-c", str(path)], port, ready=ready)

    def simple(self, http=None, cluster_overrides=None, **top):
        """One upstream `app` behind rampart with helpers.simple_config; returns (rampart, upstream)."""
        upstream = self.upstream("app")
        port = helpers.free_port()
        rampart = self.rampart(helpers.simple_config(port, upstream.address, http=http,
                                                     cluster_overrides=cluster_overrides, **top), port)
        return rampart, upstream

    def close(self):
        for process in self.processes:
            if isinstance(process, helpers.Rampart):  # shown by pytest only when the test fails
                print(f"--- rampart pid {process.pid} stderr (tail) ---")
                print(process.stderr()[-4000:])
        for process in reversed(self.processes):
            try:
                process.stop()
            except Exception:  # keep tearing down the others
                pass


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path)
    yield s
    s.close()


@pytest.fixture
def proxy(stack):
    """The common setup: (rampart, upstream) with default limits."""
    return stack.simple()
