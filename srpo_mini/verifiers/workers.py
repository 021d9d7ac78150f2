"""A reusable pool of worker processes that run one function under a hard time limit.

Why processes: a sympy call cannot be interrupted from another thread, and a signal
alarm (the usual trick) works only in the main thread of the main interpreter, so a
verifier called from a data-loader or trainer thread would have no time limit at all.
Here every task runs in a separate worker process; the caller waits on the worker's
pipe with `poll` and, when the deadline passes, kills the worker (SIGKILL) and starts
a replacement. That works from any thread and bounds the wall-clock time of every task
by `timeout` plus the time to read the reply.

Each worker:
    - is a fresh interpreter (`python -I -c WORKER_BOOTSTRAP ROOT TARGET MEMORY_MB`), not a
      fork of the caller, so it holds none of the caller's threads, locks, CUDA state or
      memory; isolated mode (`-I`) and the working directory `/` keep a module planted in
      the caller's working directory (a `json.py` in a world-writable directory) or a
      PYTHON* variable off its import path: its path is the interpreter's own, the
      package's root, and the absolute entries of the caller's PYTHONPATH;
    - caps its own address space with RLIMIT_AS (`memory_mb`) before importing anything,
      so a runaway computation ends in MemoryError inside the worker, not in the trainer;
    - imports the target function once ("module:function") and then answers JSON tasks
      `{"args": [...]}` one line at a time, forever; it exits when its stdin closes;
    - sets a soft alarm slightly before the hard limit, so most slow tasks return
      "timeout" themselves and the worker survives (no restart cost).

The pool starts workers lazily, reuses them across calls, hands each calling thread its
own workers (threads can share the pool; a `map` holds its workers until its last task
is done, and a thread that finds none free waits: the time limit counts from when a
worker takes the task), and notices when it has been inherited by a forked child (it
then starts its own workers instead of touching the parent's).
Results are `TaskResult(status, value, seconds, detail)`; `status` is "ok", "error"
(the function raised), "timeout" or "crashed" (the worker died, e.g. out of memory).

POSIX only (poll on pipes, RLIMIT_AS; macOS ignores RLIMIT_AS).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_MAX_START_FAILURES = 3
# argv: package root, target, memory limit. With -I nothing of the working directory or
# the environment is on sys.path; a relative PYTHONPATH entry would name the cwd: dropped.
WORKER_BOOTSTRAP = """import os, sys
extra = os.environ.get("PYTHONPATH", "").split(os.pathsep)
sys.path[:0] = [sys.argv[1]] + [p for p in extra if os.path.isabs(p)]
from srpo_mini.verifiers.workers import _worker_main
_worker_main(sys.argv[2], int(sys.argv[3]))
"""


@dataclass
class TaskResult:
    """Outcome of one task: status "ok" | "error" | "timeout" | "crashed"."""

    status: str
    value: object = None
    seconds: float = 0.0
    detail: str = ""


class _Worker:
    """One worker process and the parent's view of it."""

    def __init__(self, target: str, memory_mb: int, start_timeout: float):
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", WORKER_BOOTSTRAP, _PACKAGE_ROOT, target,
             str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, cwd="/", close_fds=True, start_new_session=True)
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.state = "starting"  # starting -> ready <-> busy; dead
        self.deadline = time.monotonic() + start_timeout
        self.task = None
        self.sent_at = 0.0

    def send(self, index: int, args, timeout: float) -> None:
        margin = min(0.25, 0.25 * timeout)
        line = json.dumps({"args": list(args), "soft": max(0.01, timeout - margin)})
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        self.state, self.task = "busy", index
        self.sent_at = time.monotonic()
        self.deadline = self.sent_at + timeout

    def read_messages(self) -> list | None:
        """Messages available on the pipe; None at end of file (the worker died)."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        self.state = "dead"
        if self.proc.returncode is None:  # not reaped yet, so its pid is still its own
            try:  # the worker leads its own process group: take any children with it
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                try:
                    self.proc.kill()
                except OSError:
                    pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class WorkerPool:
    """A pool of `size` worker processes running the function named by `target`.

    target:        "module:function"; the function takes JSON values and returns one.
    size:          most workers alive at once (default: the number of CPU cores).
    memory_mb:     RLIMIT_AS per worker in MiB (0: no limit).
    start_timeout: seconds a new worker may take to import its target.
    """

    def __init__(self, target: str, *, size: int | None = None, memory_mb: int = 1024,
                 start_timeout: float = 60.0):
        self.target = target
        self.size = max(1, size or os.cpu_count() or 1)
        self.memory_mb = memory_mb
        self.start_timeout = start_timeout
        self._reset()
        atexit.register(self.close)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._alive = 0

    def _spawn(self) -> _Worker:
        return _Worker(self.target, self.memory_mb, self.start_timeout)

    def _checkout(self, want: int) -> list[_Worker]:
        with self._cond:
            if self._pid != os.getpid():  # inherited through fork: never touch those
                self._reset()
            while True:
                taken, self._idle = self._idle[:want], self._idle[want:]
                while len(taken) < want and self._alive < self.size:
                    taken.append(self._spawn())
                    self._alive += 1
                if taken:
                    return taken
                self._cond.wait()

    def _checkin(self, workers: list[_Worker]) -> None:
        with self._cond:
            for worker in workers:
                if worker.state in ("ready", "starting"):
                    self._idle.append(worker)
                else:
                    worker.kill()
                    self._alive -= 1
            self._cond.notify_all()

    def warm_up(self, workers: int | None = None) -> None:
        """Start workers now (and wait until they are ready) instead of at first use."""
        taken = self._checkout(min(self.size, workers or self.size))
        try:
            self._loop(taken, [], [], 1.0)
        finally:
            self._checkin(taken)

    def run(self, *args, timeout: float) -> TaskResult:
        """Run one task: `target(*args)` within `timeout` seconds."""
        return self.map([args], timeout=timeout, max_workers=1)[0]

    def map(self, calls, *, timeout: float, max_workers: int | None = None) -> list[TaskResult]:
        """Run `target(*call)` for every call, spread over the workers; order preserved.

        timeout: hard wall-clock limit per task, counted from when a worker receives it.
        """
        calls = list(calls)
        if not calls:
            return []
        want = min(len(calls), self.size, max(1, max_workers or self.size))
        workers = self._checkout(want)
        results: list = [None] * len(calls)
        try:
            self._loop(workers, calls, results, timeout)
        finally:
            self._checkin(workers)
        return results

    def _loop(self, workers: list[_Worker], calls, results, timeout: float) -> None:
        pending = deque(range(len(calls)))
        start_failures = 0

        def replace(slot: int) -> None:
            workers[slot].kill()
            workers[slot] = self._spawn()

        while True:
            for slot, worker in enumerate(workers):
                if worker.state == "ready" and pending:
                    index = pending.popleft()
                    try:
                        worker.send(index, calls[index], timeout)
                    except (BrokenPipeError, OSError):
                        pending.appendleft(index)
                        replace(slot)
            active = [w for w in workers if w.state in ("starting", "busy")]
            if not active and not pending:
                return
            if not any(w.state == "busy" for w in workers) and \
                    start_failures >= _MAX_START_FAILURES:
                for index in pending:
                    results[index] = TaskResult("error", detail="worker failed to start")
                return
            now = time.monotonic()
            wait = max(0.0, min(w.deadline for w in active) - now)
            poller = select.poll()  # poll, not select: no limit on descriptor numbers
            for worker in active:
                poller.register(worker.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
            readable = {fd for fd, _ in poller.poll(int(wait * 1000) + 1)}
            for slot, worker in enumerate(workers):
                if worker.fd not in readable or worker.state not in ("starting", "busy"):
                    continue
                messages = worker.read_messages()
                if messages is None:  # the worker died
                    if worker.state == "busy":
                        try:
                            code = worker.proc.wait(timeout=1.0)
                        except subprocess.TimeoutExpired:
                            code = None
                        results[worker.task] = TaskResult(
                            "crashed", seconds=time.monotonic() - worker.sent_at,
                            detail=f"worker exited with code {code}")
                    else:
                        start_failures += 1
                    replace(slot)
                    continue
                for message in messages:
                    if message.get("ready"):
                        worker.state = "ready"
                        start_failures = 0
                    elif worker.state == "busy":
                        seconds = time.monotonic() - worker.sent_at
                        if message.get("ok"):
                            result = TaskResult("ok", message.get("value"), seconds)
                        elif message.get("timeout"):
                            result = TaskResult("timeout", seconds=seconds,
                                                detail="soft time limit")
                        else:
                            result = TaskResult("error", seconds=seconds,
                                                detail=str(message.get("error", "")))
                        results[worker.task] = result
                        worker.state, worker.task = "ready", None
            now = time.monotonic()
            for slot, worker in enumerate(workers):
                if worker.state == "busy" and now >= worker.deadline:
                    results[worker.task] = TaskResult(
                        "timeout", seconds=now - worker.sent_at, detail="killed at the limit")
                    replace(slot)
                elif worker.state == "starting" and now >= worker.deadline:
                    start_failures += 1
                    replace(slot)

    def close(self) -> None:
        """Stop the idle workers (workers in use by another thread finish first)."""
        with self._cond:
            if self._pid != os.getpid():
                return
            for worker in self._idle:
                worker.kill()
                self._alive -= 1
            self._idle = []


# --- The worker process -------------------------------------------------------------

class _SoftTimeout(BaseException):
    """Raised by the worker's own alarm; BaseException so `except Exception` in the
    target cannot swallow it."""


def _on_alarm(signum, frame):
    raise _SoftTimeout()


def _worker_main(target: str, memory_mb: int) -> None:
    import importlib
    import resource

    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol
    if memory_mb > 0:
        limit = memory_mb << 20
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    signal.signal(signal.SIGALRM, _on_alarm)

    def reply(message: dict) -> None:
        try:
            line = json.dumps(message)
        except (TypeError, ValueError) as err:  # a value JSON cannot carry
            line = json.dumps({"ok": False, "error": f"unserializable result: {err}"})
        protocol.write(line.encode() + b"\n")
        protocol.flush()

    reply({"ready": True})
    for line in sys.stdin.buffer:
        try:
            task = json.loads(line)
            signal.setitimer(signal.ITIMER_REAL, float(task.get("soft") or 0))
            value = function(*task["args"])
            signal.setitimer(signal.ITIMER_REAL, 0)
            message = {"ok": True, "value": value}
        except _SoftTimeout:
            message = {"ok": False, "timeout": True}
        except Exception as err:  # report, stay alive for the next task
            signal.setitimer(signal.ITIMER_REAL, 0)
            message = {"ok": False, "error": f"{type(err).__name__}: {str(err)[:200]}"}
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            reply(message)
        except _SoftTimeout:
            reply({"ok": False, "timeout": True})
