"""The harness inside the code sandbox, run in a fresh `python -s -S -B` interpreter.

`sandbox.py` compiles this file and its two helpers (`_child_roles.py`, `_child_os.py`)
once, and sends the code objects to a few-line bootstrap (`sandbox.BOOTSTRAP`) before
the job: recompiling ~1000 lines would cost more than the interpreter's own start. They
import only built-in and C modules, never srpo_mini, `json` or `ctypes`. Three roles,
three processes:

    harness (H)  trusted. Builds the isolation (`_child_os.setup_root`), forks the two
                 others, runs the per-test wall clock and the output cap, kills and reaps,
                 and writes one JSON line per test to the runner on fd 1. It never runs
                 program code and never receives an expected answer.
    program (U)  untrusted. Forked from H, it limits itself and drops to an unprivileged
                 identity (`_child_os.enter_program`), then runs the program: it serves
                 calls (call- and assert-based tests) or runs once as a script on one
                 test's stdin (stdin-based tests). It speaks only through its own pipes, in
                 frames that H decodes and accepts only as plain data.
    checker (T)  trusted, assert-based tests only. Forked from H *before* the test code is
                 sent, it reads that code straight from the runner, so neither H nor any
                 program process ever holds it. It runs the asserts on plain values; the
                 program's functions are proxies that call into U through H.

A test passes only on a report that T writes after the last assert ran (assert tests)
or on values and output that the runner compares itself (call and stdin tests). Nothing
U writes, and no exit code, can claim a pass.

Reports to the runner, one JSON object per line: {"event": "case", "index", "outcome",
"seconds", "error", and "value" (call: the return value) or "stdout" and "exit_code"
(stdin)}, "ready" (assert: send the test code now), "probe", "error", and "done" last.
"""

import os
import select
import time

import _child_os as osx  # installed in sys.modules by the bootstrap
import _child_roles as roles

now = time.monotonic
SIGXCPU = 24


class RawJSON(str):
    """A report field that is already JSON (a tagged value from `roles.to_json`)."""


def event(**fields) -> bytes:
    parts = [f'"{key}":{value if type(value) is RawJSON else roles.to_json(value)}'
             for key, value in fields.items()]
    return ("{" + ",".join(parts) + "}\n").encode()


def safe_loads(payload: bytes, seconds: float):
    """A frame from U (untrusted): a non-empty tuple of plain data, else None. The bytes
    are checked before `marshal.loads` sees them (`roles.check_frame`: plain types only,
    no shared references, node, size and time budgets), so no reply can make H hash,
    walk or re-encode more than its own length, or work `seconds` (a test's limit) on it."""
    try:
        roles.check_frame(payload, now() + seconds)
        value = roles.loads(payload)
    except Exception:
        return None
    return value if type(value) is tuple and value and type(value[0]) is str else None


class Child:
    """A process H forked: pid, pidfd, H's ends of its pipes, what was read from them."""

    def __init__(self, pid: int, reply_fd: int, request_fd: int, out_fd=None, err_fd=None):
        self.pid, self.reply_fd, self.request_fd = pid, reply_fd, request_fd
        self.out_fd, self.err_fd = out_fd, err_fd
        self.pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
        self.status = None
        self.buffer = bytearray()  # frames from the child, not yet taken
        self.stdout = bytearray()
        self.stderr_tail = b""
        self.output_bytes = 0
        for fd in (reply_fd, out_fd, err_fd):
            if fd is not None:
                os.set_blocking(fd, False)

    def fds(self) -> list:
        return [fd for fd in (self.reply_fd, self.request_fd, self.out_fd, self.err_fd,
                              self.pidfd) if fd is not None]


class Harness:
    def __init__(self, job: dict):
        self.job, self.level, self.limits = job, job["level"], job["limits"]
        self.timeout = self.limits["timeout"]
        # the end of the program's total budget, on the runner's clock (time.monotonic is
        # the same in every namespace): no test runs past it, whatever its own limit says
        self.budget_deadline = job["budget_deadline"]
        self.statuses = {}  # pid -> wait status of children reaped on the way
        self.libc = self.checker = self.program = None

    def setup(self) -> None:
        job = self.job
        try:
            self.libc = osx.Libc()
        except Exception:
            if self.level != "rlimits":
                raise
        self.devnull = os.open("/dev/null", os.O_RDWR)
        self.job_fd = os.dup(0)  # the runner's pipe: only T reads it again (the test code)
        os.dup2(self.devnull, 0)
        if self.level in osx.PIDNS_LEVELS:
            if os.getpid() != 1:
                raise RuntimeError("namespace level, but the harness is not pid 1")
            osx.setup_root(self.libc, job)
        else:
            if self.libc is not None:
                self.libc.prctl(osx.PR_SET_CHILD_SUBREAPER, 1)  # orphans come back to H
            os.chdir(job["workdir"])
        if self.libc is not None:
            self.libc.prctl(osx.PR_SET_DUMPABLE, 0)  # no /proc/<pid>/fd, no ptrace into H
        osx.limit_trusted(job)  # H decodes hostile replies: bounded too (U sets its own)
        job["harness_pid"] = os.getpid()

    def report(self, **fields) -> None:
        roles.write_all(1, event(**fields))

    def within_budget(self, deadline: float) -> float:
        """`deadline`, or the end of the program's total budget if that comes first."""
        return min(deadline, self.budget_deadline)

    def budget_spent(self) -> bool:
        return now() >= self.budget_deadline

    def budget_text(self) -> str:
        return f"the program's total time budget of {self.limits['total_timeout']:g} s was spent"

    def stop_after(self, outcome: str) -> str | None:
        """Why the tests after one with `outcome` are not run (None: run them)."""
        if self.budget_spent():
            return "not run: " + self.budget_text()
        if outcome == "timeout" and self.job["stop_after_timeout"]:
            return "not run after a timeout"
        return None

    # -- processes -------------------------------------------------------------------------

    def spawn_program(self, mode: str, stdin_fd=None, cpu_seconds=None, calls=None) -> Child:
        """Fork U in `mode` serve | script | probe; fds 0-2 stdio, 3 requests, 4 replies.
        `calls`: the call-based tests U runs by itself (serve mode)."""
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                osx.install_fds({0: self.devnull if stdin_fd is None else stdin_fd,
                                 1: out_w, 2: err_w, 3: request_r, 4: reply_w})
                # never above H's own hard limit, which a forked U could not raise
                cpu = min(cpu_seconds or int(self.timeout) + 1, self.job["trusted_cpu_seconds"])
                osx.enter_program(self.job, self.libc, cpu)
                if mode == "script":
                    roles.program_script(self.job["program"])
                elif mode == "serve":
                    roles.program_serve(self.job["program"], "solution", calls)
                else:
                    roles.write_all(4, roles.frame(("probe", os.getuid())))
            except BaseException as err:  # a failed setup says why (the probe reports it)
                try:
                    os.write(2, f"{type(err).__name__}: {err}".encode()[:500])
                except BaseException:
                    pass
            os._exit(70)
        for fd in (request_r, reply_w, out_w, err_w):
            os.close(fd)
        return Child(pid, reply_r, request_w, out_r, err_r)

    def spawn_checker(self) -> Child:
        """Fork T with the runner's pipe (fd 3), its requests to H (4), H's replies (5)."""
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                osx.install_fds({0: self.devnull, 1: self.devnull, 2: self.devnull,
                                 3: self.job_fd, 4: request_w, 5: reply_r})
                osx.enter_checker(self.job, self.libc)
                roles.checker_main(3, 4, 5)
            except BaseException:
                pass
            os._exit(0)
        for fd in (request_w, reply_r, self.job_fd):
            os.close(fd)
        return Child(pid, request_r, reply_w)

    def reap(self, child: Child, block: bool) -> bool:
        """Collect the child's exit status if it has exited (or wait for it)."""
        if child.status is None:
            if child.pid in self.statuses:
                child.status = self.statuses.pop(child.pid)
            else:
                try:
                    pid, status = os.waitpid(child.pid, 0 if block else os.WNOHANG)
                except ChildProcessError:
                    pid, status = child.pid, 0
                if pid:
                    child.status = status
        return child.status is not None

    def reap_orphans(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            self.statuses[pid] = status

    def kill_program(self, child: Child) -> None:
        """Kill U and everything it started; reap them; close H's ends of U's pipes."""
        if self.level in osx.PIDNS_LEVELS and self.checker is None and os.getpid() == 1:
            try:
                os.kill(-1, osx.SIGKILL)  # from pid 1: every other process of the namespace
            except ProcessLookupError:
                pass
        elif self.level in osx.ROOT_LEVELS:
            osx.kill_uid(self.job["uid"])
        else:
            for target in (-child.pid, child.pid):
                try:
                    os.kill(target, osx.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.reap(child, block=True)
        self.reap_orphans()
        for fd in child.fds():
            os.close(fd)
        if child is self.program:
            self.program = None

    # -- waiting ---------------------------------------------------------------------------

    def pump(self, child: Child, deadline: float, until_exit: bool = False):
        """Move a child's bytes until a whole frame arrives (or, `until_exit`, the child
        exits), the deadline passes or the output cap is exceeded.

        Returns ("reply", payload) | ("exit", status) | ("timeout",) | ("output_limit",).
        """
        cap = self.limits["output_bytes"]
        open_fds = [fd for fd in (child.reply_fd, child.out_fd, child.err_fd) if fd is not None]
        while True:
            if not until_exit and len(child.buffer) >= 4:
                size = int.from_bytes(child.buffer[:4], "little")
                if size > cap:
                    return ("output_limit",)
                if len(child.buffer) >= 4 + size:
                    payload = bytes(child.buffer[4:4 + size])
                    del child.buffer[:4 + size]
                    return ("reply", payload)
            if child.status is not None and not open_fds:
                return ("exit", child.status)
            remaining = deadline - now()
            if remaining <= 0:
                return ("timeout",)
            watch = list(open_fds)
            if child.pidfd is not None and child.status is None:
                watch.append(child.pidfd)
            wait = remaining if child.pidfd is not None else min(remaining, 0.005)
            ready = select.select(watch, [], [], wait)[0]
            if (child.pidfd is None or child.pidfd in ready) and self.reap(child, block=False):
                # take what the pipes hold now, then stop reading: a grandchild may keep
                # them open forever
                for fd in open_fds:
                    while (result := self.read_some(child, fd, until_exit)) is None:
                        pass
                    if result == "output_limit":
                        return (result,)
                open_fds = []
                continue
            for fd in ready:
                if fd in open_fds:
                    result = self.read_some(child, fd, until_exit)
                    if result == "eof":
                        open_fds.remove(fd)
                    elif result == "output_limit":
                        return (result,)

    def read_some(self, child: Child, fd: int, keep_stdout: bool):
        """Read one chunk: None (data taken), "blocked", "eof" or "output_limit"."""
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return "blocked"
        if not data:
            return "eof"
        if fd == child.reply_fd:
            child.buffer += data
            return "output_limit" if len(child.buffer) > self.limits["output_bytes"] + 4 else None
        child.output_bytes += len(data)
        if child.output_bytes > self.limits["output_bytes"]:
            return "output_limit"
        if fd == child.out_fd and keep_stdout:
            child.stdout += data
        elif fd == child.err_fd:
            child.stderr_tail = (child.stderr_tail + data)[-2000:]
        return None

    def death(self, child: Child) -> tuple:
        """Outcome and detail for a U that exited without the reply it owed."""
        status = child.status or 0
        tail = child.stderr_tail.decode("utf-8", "replace").strip()
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == SIGXCPU:
            return "timeout", "CPU time limit"
        if "MemoryError" in tail or "Cannot allocate memory" in tail:
            return "memory_limit", tail[-300:]
        if os.WIFSIGNALED(status):
            return "runtime_error", f"killed by signal {os.WTERMSIG(status)}"
        return "runtime_error", f"exited with code {os.WEXITSTATUS(status)}" + (
            f": {tail[-300:]}" if tail else "")

    def failure_of(self, event_: tuple, child: Child, what: str) -> tuple:
        if event_[0] == "exit":
            return self.death(child)
        if event_[0] == "timeout":
            if self.budget_spent():
                return "timeout", f"{what}: {self.budget_text()}"
            return "timeout", f"{what}: still running after {self.timeout:g} s"
        return "output_limit", f"{what}: more than {self.limits['output_bytes']} bytes of output"

    def start_program(self, deadline: float, calls=None):
        """Fork a serving U and wait until it has loaded the program.

        Returns None, or (outcome, detail) when loading failed (U is then gone)."""
        child = self.spawn_program("serve", cpu_seconds=self.job["cpu_seconds"], calls=calls)
        event_ = self.pump(child, deadline)
        reply = safe_loads(event_[1], self.timeout) if event_[0] == "reply" else None
        if reply and reply[0] == "loaded":
            self.program = child
            return None
        if reply and reply[0] == "syntax_error":
            failure = ("syntax_error", str(reply[1]))
        elif reply and reply[0] == "load_error":
            kind = "memory_limit" if reply[1] == "MemoryError" else "runtime_error"
            failure = (kind, f"{reply[1]} while loading: {reply[2]}")
        elif event_[0] == "reply":
            failure = ("runtime_error", "malformed message while loading")
        else:
            failure = self.failure_of(event_, child, "loading")
        self.kill_program(child)
        return failure

    def call(self, request: bytes, deadline: float):
        """One request to the serving U: ("reply", tuple) or (outcome, detail), U gone."""
        child = self.program
        try:
            roles.write_all(child.request_fd, request)
        except OSError:
            pass  # U is gone; pump tells how
        event_ = self.pump(child, deadline)
        reply = safe_loads(event_[1], self.timeout) if event_[0] == "reply" else None
        if reply is not None:
            return "reply", reply
        outcome = (("runtime_error", "malformed reply") if event_[0] == "reply"
                   else self.failure_of(event_, child, "the call"))
        self.kill_program(child)
        return outcome

    # -- the three kinds of tests ----------------------------------------------------------

    def run_calls(self) -> None:
        """Call-based tests: U runs the calls from `index` on by itself; each reply must
        come within the timeout of the previous one. A fatal event starts a fresh U."""
        name, calls = self.job["fn_name"], self.job["calls"]
        index = 0
        while index < len(calls):
            if self.budget_spent():
                self.report_rest(range(index, len(calls)), "skipped",
                                 "not run: " + self.budget_text())
                return
            failure = self.start_program(self.within_budget(now() + self.timeout),
                                         [(name, a, k) for a, k in calls[index:]])
            if failure is not None:  # loading failed: it would fail for every test
                self.report_rest(range(index, len(calls)), *failure)
                return
            while index < len(calls):
                start = now()
                event_ = self.pump(self.program, self.within_budget(start + self.timeout))
                self.program.output_bytes = 0  # the output cap is per test
                fields = {"event": "case", "index": index, "seconds": round(now() - start, 4)}
                index += 1
                reply = safe_loads(event_[1], self.timeout) if event_[0] == "reply" else None
                if reply is None:
                    outcome, detail = (("runtime_error", "malformed reply") if event_[0] == "reply"
                                       else self.failure_of(event_, self.program, "the call"))
                    self.kill_program(self.program)
                    self.report(**fields, outcome=outcome, error=detail)
                    if (why := self.stop_after(outcome)) is not None:
                        self.report_rest(range(index, len(calls)), "skipped", why)
                        return
                    break  # a fresh U for the rest
                self.report_reply(fields, reply)

    def report_reply(self, fields: dict, reply: tuple) -> None:
        if reply[0] == "ok":
            try:
                self.report(**fields, outcome="returned", value=RawJSON(roles.to_json(reply[1])))
                return
            except (roles.Unplain, RecursionError) as err:
                outcome, detail = "wrong_answer", f"returned a {err}, not plain data"
        elif reply[0] == "unplain":
            outcome, detail = "wrong_answer", f"returned a {reply[1]}, not plain data"
        elif reply[0] == "exc":
            outcome = "memory_limit" if reply[1] == "MemoryError" else "runtime_error"
            detail = f"{reply[1]}: {reply[2]}"
        else:
            outcome, detail = "runtime_error", "malformed reply"
        self.report(**fields, outcome=outcome, error=detail)

    def run_scripts(self) -> None:
        """Stdin-based tests: a fresh U per test, its stdin a memfd holding the input;
        report the stdout and exit code (the runner compares)."""
        inputs = self.job["inputs"]
        for index, text in enumerate(inputs):
            if self.budget_spent():
                self.report_rest(range(index, len(inputs)), "skipped",
                                 "not run: " + self.budget_text())
                return
            stdin_fd = os.memfd_create("stdin")
            roles.write_all(stdin_fd, text.encode("utf-8"))
            os.lseek(stdin_fd, 0, os.SEEK_SET)
            start = now()
            child = self.spawn_program("script", stdin_fd=stdin_fd)
            os.close(stdin_fd)
            event_ = self.pump(child, self.within_budget(start + self.timeout), until_exit=True)
            fields = {"event": "case", "index": index, "seconds": round(now() - start, 4)}
            reply = (safe_loads(bytes(child.buffer[4:]), self.timeout)
                     if len(child.buffer) > 4 else None)
            self.kill_program(child)
            if reply and reply[0] == "syntax_error":
                self.report_rest(range(index, len(inputs)), "syntax_error", str(reply[1]))
                return
            if event_[0] != "exit":
                outcome, detail = self.failure_of(event_, child, "the program")
                self.report(**fields, outcome=outcome, error=detail)
                if (why := self.stop_after(event_[0])) is not None:
                    self.report_rest(range(index + 1, len(inputs)), "skipped", why)
                    return
            elif reply and reply[0] == "done" and reply[2] == "MemoryError":
                self.report(**fields, outcome="memory_limit", error="MemoryError")
            elif os.WIFEXITED(event_[1]):
                self.report(**fields, outcome="exited", exit_code=os.WEXITSTATUS(event_[1]),
                            stdout=child.stdout.decode("utf-8", "replace"),
                            error=child.stderr_tail.decode("utf-8", "replace")[-300:])
            else:
                outcome, detail = self.death(child)
                self.report(**fields, outcome=outcome, error=detail)

    def run_asserts(self) -> None:
        """Assert-based tests: T runs the test code and asks H for every call into U;
        T's "end" message (after the last assert of a test) is the only source of a pass."""
        n_cases = self.job["n_cases"]
        self.checker = checker = self.spawn_checker()
        failure = self.start_program(self.within_budget(now() + self.timeout))
        if failure is not None:
            self.report_rest(range(n_cases), *failure)
            return
        self.report(event="ready")  # the runner now sends the test code, to T only
        index, start = None, now()
        case_deadline = self.within_budget(now() + 5 + self.timeout)
        while True:
            # T gets a little slack over the test's clock: U's calls are timed by H.
            event_ = self.pump(checker, case_deadline + 0.5)
            if event_[0] != "reply":  # T died, or stalled in the test code itself
                first = 0 if index is None else index + 1
                spent = self.budget_spent()
                if index is not None:
                    self.report(event="case", index=index, outcome="timeout",
                                error=self.budget_text() if spent
                                else "the test code did not finish",
                                seconds=round(now() - start, 4))
                self.report_rest(range(first, n_cases), "skipped",
                                 "not run: " + self.budget_text() if spent
                                 else "the checker stopped")
                return
            message = roles.loads(event_[1])  # T is trusted
            if message[0] == "begin":
                index, start = message[1], now()
                case_deadline = self.within_budget(start + self.timeout)
            elif message[0] == "end":
                _, index, outcome, detail = message
                self.report(event="case", index=index, outcome=outcome, error=detail,
                            seconds=round(now() - start, 4))
                if (why := self.stop_after(outcome)) is not None:
                    self.report_rest(range(index + 1, n_cases), "skipped", why)
                    return
                index, case_deadline = None, self.within_budget(now() + 5 + self.timeout)
            elif message[0] == "finished":
                return
            else:  # "call" or "get": forwarded to U, the reply checked before T sees it
                reply = self.forward(message, case_deadline)
                roles.write_all(checker.request_fd, roles.frame(reply))

    def forward(self, message: tuple, deadline: float) -> tuple:
        """T's request to U, with a fresh U if the last one died; the reply for T."""
        if self.program is None:
            failure = self.start_program(deadline)
            if failure is not None:
                return ("died",) + failure
        result = self.call(roles.frame(message), deadline)
        if result[0] != "reply":
            return ("died",) + result
        if result[1][0] == "exc" and message[0] == "get":
            return ("names", {})
        return result[1]

    def report_rest(self, indices, outcome: str, detail: str) -> None:
        for index in indices:
            self.report(event="case", index=index, outcome=outcome, error=detail, seconds=0.0)

    def probe(self) -> None:
        child = self.spawn_program("probe")
        event_ = self.pump(child, now() + 5)
        reply = safe_loads(event_[1], self.timeout) if event_[0] == "reply" else None
        self.kill_program(child)
        if reply is None:
            why = child.stderr_tail.decode("utf-8", "replace").strip() or event_[0]
            self.report(event="error", message=f"the program's setup failed: {why}")
        self.report(event="probe", uid=reply[1] if reply else -1)

    def finish(self) -> None:
        """Kill whatever is left (T, U, orphans) and reap it, before H exits."""
        if self.checker is not None and self.checker.status is None:
            os.kill(self.checker.pid, osx.SIGKILL)
            self.reap(self.checker, block=True)
        self.checker = None
        if self.program is not None:
            self.kill_program(self.program)
        if self.level in osx.PIDNS_LEVELS:
            return  # H is pid 1: its exit kills and reaps the rest of the namespace
        if self.level == "rlimits":
            osx.kill_children_of(os.getpid())
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break


def main() -> int:
    job = roles.read_frame(0)
    harness = Harness(job)
    try:
        harness.setup()
        {"call": harness.run_calls, "stdin": harness.run_scripts,
         "assert": harness.run_asserts, "probe": harness.probe}[job["kind"]]()
    except BaseException as err:
        try:
            harness.report(event="error", message=f"{type(err).__name__}: {err}")
        except OSError:
            pass
    finally:
        harness.finish()
    harness.report(event="done")
    return 0


if __name__ == "__main__":
    os._exit(main())  # no interpreter teardown: everything is reported and reaped
