"""Launching the code sandbox: isolation levels, limits, the harness process, its teardown.

One program's run is one harness process (`_child.py`), started with a scrubbed
environment (through `unshare` at the namespace levels). This module checks that the
required isolation level works on the machine, sends the job, reads the harness's JSON
lines under a backstop deadline, and kills and reaps whatever is left. What each level
guarantees is documented in docs/sandbox.md.

Levels, strongest first:

    namespaces  root: new pid, network, mount, IPC and UTS namespaces; a minimal root
                filesystem (read-only system binds, chroot); the program under its own
                unprivileged uid.
    userns      not root, user namespaces allowed: the same namespaces inside a user
                namespace; the program keeps no capability.
    uid         root without namespaces: the program under its own unprivileged uid.
    rlimits     neither: resource limits and a process group only.

It fails closed: "namespaces" is required unless `SRPO_SANDBOX_ISOLATION=<level>` names
another level; a level that cannot be set up raises `SandboxUnavailable`, naming the cause
and the opt-in, and no level is ever chosen silently (docs/sandbox.md has the policy).
"""

from __future__ import annotations

import json
import marshal
import math
import os
import random
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("namespaces", "userns", "uid", "rlimits")
REQUIRED_LEVEL = "namespaces"  # the default: anything weaker only when asked for by name
OPT_IN = "SRPO_SANDBOX_ISOLATION"  # environment variable naming the level to run at
HARNESS_MODULES = ("_child_os", "_child_roles", "_child")  # in import order
# Runs with `python -I -S -B -c`: isolated mode puts neither the working directory nor
# any PYTHON* variable on the import path (the filter below makes sure of it). Reads the
# harness's code objects from stdin (the job follows), installs the helpers as modules,
# runs the harness.
BOOTSTRAP = """import marshal, os, sys
sys.path[:] = [p for p in sys.path if os.path.isabs(p)]
def read(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            os._exit(3)
        data += chunk
    return data
code = marshal.loads(read(int.from_bytes(read(4), "little")))
for name in ("_child_os", "_child_roles"):
    module = sys.modules[name] = type(sys)(name)
    exec(code[name], module.__dict__)
exec(code["_child"], {"__name__": "__main__"})
"""
NAMESPACE_FLAGS = ["--pid", "--fork", "--kill-child", "--net", "--mount", "--ipc", "--uts"]
BACKSTOP_SLACK = 10.0  # seconds beyond the tests' own time limits before the runner kills
# Seconds past a program's total budget before the runner kills its harness: the harness
# stops at the budget itself and needs this only to report the rest and exit.
BUDGET_GRACE = 2.0
TRUSTED_MEMORY_MB = 512  # harness and checker address space, beyond the program's own
CHECKER_UID = 65534  # nobody: the assert checker, distinct from every program uid
PROGRAM_UIDS = (1_000_000, 1_000_000_000)  # a fresh uid per run, unused by real accounts
# The harness's own environment: nothing of the caller's leaks into the sandbox.
SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8", "MALLOC_ARENA_MAX": "2"}


@dataclass(frozen=True)
class Limits:
    """Per-program limits. `timeout` is per test case, `total_timeout` for all of them
    together; the rest per process."""

    timeout: float = 2.0         # wall-clock seconds per test case (and for loading)
    # wall-clock seconds for the whole run of one program (loading and every test): many
    # tests that each sleep just under `timeout` would otherwise hold a row for
    # tests x timeout. 10 s ends any row well within 15 s (start and teardown included)
    # and leaves an honest program room for hundreds of fast tests.
    total_timeout: float = 10.0
    memory_mb: int = 512         # address space (RLIMIT_AS) of each program process
    output_bytes: int = 1 << 20  # stdout + stderr (or one return value) per test case
    file_mb: int = 16            # largest file the program may write (RLIMIT_FSIZE)
    open_files: int = 64         # RLIMIT_NOFILE
    max_processes: int = 16      # processes and threads of the program's uid (RLIMIT_NPROC)
    disk_mb: int = 64            # the tmpfs holding /sandbox and /tmp (namespace levels)

    def __post_init__(self):
        if not self.total_timeout > 0:
            raise ValueError(f"total_timeout must be > 0 seconds, got {self.total_timeout}")

    def for_harness(self) -> dict:
        return {"timeout": float(self.timeout), "total_timeout": float(self.total_timeout),
                "memory_bytes": self.memory_mb << 20,
                "output_bytes": int(self.output_bytes), "file_bytes": self.file_mb << 20,
                "open_files": int(self.open_files), "disk_mb": int(self.disk_mb)}


@dataclass
class SandboxRun:
    """What one harness run reported: `cases[i]` is the event dict of test i (or None)."""

    cases: list
    isolation: str
    error: str | None = None
    seconds: float = 0.0
    probe_uid: int = -1


# ----------------------------------------------------------------------------- levels

class SandboxUnavailable(RuntimeError):
    """The isolation level asked for (by default "namespaces") cannot be set up here."""


_detected: dict[str, str] = {}
_detect_lock = threading.Lock()


def requested_level() -> str:
    """The level this process must run at: `SRPO_SANDBOX_ISOLATION`, else "namespaces"."""
    level = os.environ.get(OPT_IN, "").strip() or REQUIRED_LEVEL
    if level not in LEVELS:
        raise SandboxUnavailable(f"{OPT_IN}={level!r} is not a level; choose from {LEVELS}")
    return level


def detect_isolation(refresh: bool = False) -> str:
    """The level programs run at: the requested one, after its probe (a full harness
    setup and privilege drop) worked. Cached per process and level.

    Raises `SandboxUnavailable` naming the cause and the opt-in when it cannot be set up:
    a weaker level is used only when `SRPO_SANDBOX_ISOLATION` names it.
    """
    level = requested_level()
    with _detect_lock:
        if refresh or _detected.get(level) is None:
            error = probe_error(level)
            if error is not None:
                raise SandboxUnavailable(_unavailable_message(level, error))
            _detected[level] = level
        return level


def _unavailable_message(level: str, error: str) -> str:
    weaker = [other for other in LEVELS[LEVELS.index(level) + 1:] if probe_error(other) is None]
    text = f"the code sandbox cannot run at the {level!r} isolation level here: {error}."
    if level != REQUIRED_LEVEL:
        return text + f" ({OPT_IN}={level} asked for it; unset it to require namespaces)"
    if not weaker:
        return text + " No weaker level works here either; programs are not run."
    as_root = ", which runs programs as root" if weaker == ["rlimits"] and os.geteuid() == 0 \
        else ""
    return (text + " Programs are never run at a weaker level unless asked: to accept one "
            f"here, set {OPT_IN}=" + " or ".join(weaker) + as_root
            + "; docs/sandbox.md says what each level guarantees and what it does not.")


def isolation_note(level: str | None) -> str:
    """A line for run summaries: empty at the required level, else the weaker level named."""
    if level is None or level == REQUIRED_LEVEL:
        return ""
    return (f"code sandbox: weaker isolation level {level!r} ({OPT_IN}={level}), "
            f"not {REQUIRED_LEVEL!r}; see docs/sandbox.md")


def probe_error(level: str) -> str | None:
    """Why `level` cannot run here (None if its probe worked): the prerequisites, then a
    harness setup with a privilege drop at that level."""
    if level not in LEVELS:
        return f"unknown level {level!r}"
    if sys.platform != "linux":
        return None if level == "rlimits" else f"{level} needs Linux"
    if level in ("namespaces", "userns") and shutil.which("unshare") is None:
        return "the `unshare` command (util-linux) is not installed"
    if level in ("namespaces", "uid") and os.geteuid() != 0:
        return f"{level} needs root (not root, {OPT_IN}=userns is the strongest level)"
    if level == "uid" and not stdlib_world_readable():
        return (f"Python's standard library ({Path(os.__file__).parent}) is not readable by "
                "other users, so a program under its own uid could not import it")
    if level == "rlimits":
        return None
    try:
        run = run_harness({"kind": "probe"}, Limits(timeout=5.0), level, n_cases=0)
    except OSError as err:
        return f"starting the harness failed: {err}"
    if run.error is not None:
        return run.error
    return None if run.probe_uid >= 0 else "the probe program did not report its uid"


def probe(level: str) -> bool:
    """Whether `level` can run here."""
    return probe_error(level) is None


# ----------------------------------------------------------------------------- filesystem

def stdlib_world_readable() -> bool:
    """Whether a user other than the owner can import from Python's standard library."""
    path = Path(os.__file__).resolve().parent
    for directory in (path, *path.parents):
        if not directory.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def _filesystem_view() -> tuple[list, list]:
    """Read-only binds (source, target) and symlinks of the namespace root: /usr, the
    top-level system directories (or their symlinks into /usr), and Python's prefixes."""
    binds, links = [("/usr", "/usr")], []
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(name):
            links.append((name, os.readlink(name)))
        elif os.path.isdir(name):
            binds.append((name, name))
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for prefix in sorted(p for p in prefixes if p):
        target = os.path.normpath(prefix)
        if not any(target == t or target.startswith(t + "/") for _, t in binds):
            binds.append((os.path.realpath(prefix), target))
    return binds, links


_view: list = []


def filesystem_view() -> tuple[list, list]:
    if not _view:
        _view.append(_filesystem_view())
    return _view[0]


# ----------------------------------------------------------------------------- one run

_harness_code: list = []


def harness_code() -> bytes:
    """The harness modules compiled once per process, as one marshal frame (docstrings
    dropped: optimize=2 applies to the harness's own code only, never to programs)."""
    if not _harness_code:
        here = Path(__file__).parent
        code = {name: compile((here / f"{name}.py").read_text(), str(here / f"{name}.py"),
                              "exec", optimize=2) for name in HARNESS_MODULES}
        _harness_code.append(_frame(code, version=4))  # v4 shares repeated names: 15% smaller
    return _harness_code[0]


def _argv(level: str) -> list[str]:
    python = [sys.executable or "python3", "-I", "-S", "-B", "-c", BOOTSTRAP]
    if level == "namespaces":
        return ["unshare", *NAMESPACE_FLAGS, *python]
    if level == "userns":
        return ["unshare", "--user", "--map-root-user", *NAMESPACE_FLAGS, *python]
    return python


def _frame(obj, version: int = 2) -> bytes:
    """A frame of the runner's own data for the sandbox (marshal: the trusted direction)."""
    data = marshal.dumps(obj, version)
    return len(data).to_bytes(4, "little") + data


def _process_uids() -> list[int]:
    """The uid of every process on the machine (one per process)."""
    uids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uids.append(os.stat(f"/proc/{entry}").st_uid)
            except OSError:
                pass
    return uids


def _own_process_count() -> int:
    return _process_uids().count(os.getuid())


def _unused_uid() -> int:
    """A random program uid that no running process has (the uid level kills by uid)."""
    in_use = set(_process_uids())
    while (uid := random.randrange(*PROGRAM_UIDS)) in in_use:
        pass
    return uid


def run_harness(job: dict, limits: Limits, level: str, *, n_cases: int,
                secret: dict | None = None, stop_after_timeout: bool = True) -> SandboxRun:
    """Run one job in a fresh harness at `level`; never raises for anything the program does.

    `job` holds what the program may see (kind, program, call arguments, stdin inputs);
    `secret` (assert tests only) is sent after the harness reports "ready" and is read by
    the checker process alone. The harness ends the run at `limits.total_timeout` from
    here; the backstop deadline covers a harness that stalls.
    """
    start = time.perf_counter()
    # time.monotonic is one clock for the whole machine (the sandbox has no time
    # namespace): the harness stops at this very instant, the runner BUDGET_GRACE later.
    budget_deadline = time.monotonic() + limits.total_timeout
    uid = _unused_uid() if level == "uid" else random.randrange(*PROGRAM_UIDS)
    workdir = None
    binds, links = filesystem_view()
    # harness and checker: CPU up to the runner's own backstop, which kills them anyway;
    # the program's limit may not exceed it (the program is forked from the harness)
    trusted_cpu_seconds = int(math.ceil(backstop_seconds(limits, n_cases)))
    full_job = {
        **job, "level": level, "uid": uid, "checker_uid": CHECKER_UID,
        "limits": limits.for_harness(), "mount_point": "/tmp", "binds": binds,
        "symlinks": links, "stop_after_timeout": stop_after_timeout,
        "budget_deadline": budget_deadline,
        "nproc": limits.max_processes + (_own_process_count() if level == "rlimits" else 0),
        "cpu_seconds": min(int(math.ceil(limits.timeout)) * (n_cases + 1) + 1,
                           trusted_cpu_seconds),
        # harness and checker: room for the interpreter and the capped replies, no more
        "trusted_memory_bytes": (limits.memory_mb + TRUSTED_MEMORY_MB) << 20,
        "trusted_cpu_seconds": trusted_cpu_seconds,
    }
    if level in ("uid", "rlimits"):
        workdir = tempfile.mkdtemp(prefix="srpo-code-")
        if level == "uid":
            os.chown(workdir, uid, uid)
        full_job["workdir"] = workdir
    env = dict(SANDBOX_ENV, HOME="/sandbox" if workdir is None else workdir,
               TMPDIR="/tmp" if workdir is None else workdir)
    run = SandboxRun(cases=[None] * n_cases, isolation=level)
    proc = subprocess.Popen(_argv(level), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd="/", start_new_session=True)
    finished = False
    try:
        finished = _exchange(proc, full_job, secret, limits, n_cases, run)
    finally:
        _kill_and_reap(proc, level, uid, finished)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    run.seconds = time.perf_counter() - start
    return run


def backstop_seconds(limits: Limits, n_cases: int) -> float:
    """Loading plus every case at its full timeout, plus slack for a loaded machine; never
    more than the program's total budget plus the grace the harness needs to report."""
    per_test = BACKSTOP_SLACK + (n_cases + 1) * (limits.timeout + 1.0)
    return min(per_test, limits.total_timeout + BUDGET_GRACE)


def _exchange(proc, job: dict, secret, limits: Limits, n_cases: int, run: SandboxRun) -> bool:
    """Send the harness code and the job (and, on "ready", the secret), read JSON lines
    until "done", then wait for the pipes to close (the harness and its namespace are
    gone). All of it under one deadline; True if it finished before it."""
    budget_end = job["budget_deadline"] + BUDGET_GRACE
    deadline = min(time.monotonic() + backstop_seconds(limits, n_cases), budget_end)
    in_fd, out_fd, err_fd = proc.stdin.fileno(), proc.stdout.fileno(), proc.stderr.fileno()
    os.set_blocking(in_fd, False)
    outgoing = bytearray(harness_code() + _frame(job))
    close_after = secret is None  # the secret goes after "ready", then stdin closes
    pending, stderr, open_fds, done = b"", b"", [out_fd, err_fd], False
    while open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if not done:
                spent = deadline == budget_end  # the budget, not the tests, set it
                run.error = ((f"the program's total time budget of {limits.total_timeout:g} s "
                              "was spent" if spent else "the sandbox stopped answering")
                             + " (killed by the backstop deadline)")
            return False
        writing = [in_fd] if outgoing else []
        readable, writable, _ = select.select(open_fds, writing, [], remaining)
        if writable:
            try:
                del outgoing[:os.write(in_fd, outgoing[:1 << 16])]
            except BlockingIOError:
                pass
            except OSError:  # the harness is gone; its pipes tell the rest
                outgoing.clear()
            if not outgoing and close_after:
                proc.stdin.close()
        for fd in readable:
            data = os.read(fd, 1 << 16)
            if not data:
                open_fds.remove(fd)
            elif fd == err_fd:
                stderr = (stderr + data)[-4000:]
            else:
                pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                run.error = "malformed report from the sandbox"
                return False
            kind = message.get("event")
            if kind == "case" and 0 <= message.get("index", -1) < n_cases:
                run.cases[message["index"]] = message
            elif kind == "ready" and secret is not None and not close_after:
                outgoing += _frame(secret)
                close_after = True
            elif kind == "probe":
                run.probe_uid = message.get("uid", -1)
            elif kind == "error":
                run.error = message.get("message", "sandbox error")
            elif kind == "done":
                done, deadline = True, min(deadline, time.monotonic() + 2.0)
    if not done:
        run.error = run.error or ("the sandbox exited early: "
                                  + stderr.decode("utf-8", "replace").strip()[-500:])
    return done


def _kill_and_reap(proc, level: str, uid: int, finished: bool) -> None:
    """Reap a harness that finished and closed its pipes; otherwise kill its process
    group first (at the namespace levels the whole namespace dies with it)."""
    if not finished:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if level == "uid":
            _kill_uid(uid)
    proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        try:
            stream.close()
        except OSError:
            pass


def _kill_uid(uid: int) -> None:
    """Kill every process of `uid` (the program's own, at the uid level)."""
    kill = shutil.which("kill") or "/bin/kill"
    subprocess.run([kill, "-KILL", "-1"], user=uid, group=uid, extra_groups=[],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

