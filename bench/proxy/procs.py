"""The processes the harness starts, and where they run.

Processes keeps every child by PID and stops them all on exit; pin() moves a
process tree onto one CPU; cpu_ticks() and read_cpu() read the CPU time spent.
"""

import ctypes
import os
import signal
import subprocess


_libc = ctypes.CDLL("libc.so.6", use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup():
    # If the harness dies, even by SIGKILL, the child gets SIGTERM.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def ppid_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid):
    """Every live process below pid (nginx's worker, for instance)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            pp = ppid_of(int(entry))
            if pp is not None:
                parents.setdefault(pp, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree(pid):
    return [pid] + descendants(pid)


def threads(pid):
    """Thread ids of pid and of its descendants (those still alive)."""
    for p in tree(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        yield from (int(tid) for tid in tids)


def pin(pid, cpu):
    """Moves every thread of pid and of its descendants onto one CPU."""
    for tid in threads(pid):
        try:
            os.sched_setaffinity(tid, {cpu})
        except OSError:
            pass


def realtime(pid, priority=1):
    """Every thread of pid and of its descendants at SCHED_FIFO `priority`:
    ahead of any normal thread on its CPU (root or CAP_SYS_NICE)."""
    for tid in threads(pid):
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))


def cpu_ticks(pid):
    """utime + stime of pid and its descendants, in clock ticks."""
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


class Processes:
    """Every process the harness starts, stopped by PID on exit."""

    def __init__(self):
        self.live = []  # (name, Popen)

    def start(self, name, argv, log_path=None, capture=False):
        if capture:
            out, err = subprocess.PIPE, subprocess.PIPE
        else:
            out = open(log_path, "ab") if log_path else subprocess.DEVNULL
            err = subprocess.STDOUT
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                preexec_fn=_child_setup, text=capture)
        if not capture and log_path:
            out.close()
        self.live.append((name, proc))
        return proc

    def forget(self, proc):
        self.live = [(n, p) for n, p in self.live if p is not proc]

    def stop(self, proc, grace=5.0):
        if proc.poll() is None:
            below = descendants(proc.pid)
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except ProcessLookupError:
                pass
            for pid in below:  # children the process left behind, if any
                if ppid_of(pid) is not None:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self.forget(proc)

    def stop_all(self):
        for _, proc in reversed(list(self.live)):
            self.stop(proc)


def read_cpu(cpu):
    """(busy, steal, total) jiffies of one CPU from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                user, nice, system, idle, iowait, irq, softirq = v[:7]
                steal = v[7] if len(v) > 7 else 0
                busy = user + nice + system + irq + softirq
                return busy, steal, busy + idle + iowait + steal
    raise RuntimeError(f"cpu{cpu} not in /proc/stat")
