"""Adversarial programs against the code sandbox: one property per test.

Each test runs a hostile program through `verify_code` at the level the sandbox requires
(`namespaces`; run as root) and checks one property: it cannot pass, stall the runner,
escape its limits, see the caller's environment or files, reach the network, or forge
the verdict. Where namespaces cannot be set up every test here fails, naming the cause;
only a weaker level asked for by name (SRPO_SANDBOX_ISOLATION=userns|uid|rlimits) skips
the properties that level does not guarantee (see docs/sandbox.md). The last test checks
that no process or zombie of any run is left behind. The attacks of issue 14 are in
test_code_sandbox_attacks.py.

Run: python -m pytest tests/test_code_sandbox.py -q
"""

from __future__ import annotations

import os
import socket
import tempfile
import textwrap
import time

import pytest

from srpo_mini.verifiers import sandbox
from srpo_mini.verifiers.code import CodeResult, verify_code
from srpo_mini.verifiers.sandbox import PROGRAM_UIDS, SANDBOX_ENV, Limits, detect_isolation

try:
    LEVEL = detect_isolation()
except sandbox.SandboxUnavailable as err:  # every test below fails with this reason
    LEVEL, UNAVAILABLE = None, str(err)
ROOT = os.geteuid() == 0
# A property of the namespace levels is skipped only where a weaker level was asked for.
NAMESPACES = LEVEL in ("namespaces", "userns")
needs_namespaces = pytest.mark.skipif(LEVEL is not None and not NAMESPACES,
                                      reason=f"weaker level asked for: {LEVEL}")


@pytest.fixture(autouse=True)
def sandbox_level():
    """Fail (never skip) every test when the required level cannot be set up."""
    if LEVEL is None:
        pytest.fail(UNAVAILABLE)
    return LEVEL


def test_the_level_is_namespaces_unless_a_weaker_one_was_asked_for():
    """The run's level is the required one, or exactly the one named in the opt-in."""
    assert LEVEL == (os.environ.get(sandbox.OPT_IN) or "namespaces")
# At the rlimits level a program may signal the runner's own user: do not try it here.
needs_signal_safety = pytest.mark.skipif(LEVEL == "rlimits", reason="rlimits level")
TIMEOUT = 1.0
SLACK = 3.0  # a loaded 2-core machine: generous, still far below "stalled"

CALL = {"fn_name": "f", "cases": [{"args": [1], "expected": 2}, {"args": [2], "expected": 3}]}
STDIN = {"cases": [{"input": "1 2\n", "output": "3\n"}]}
ASSERT = {"assert": "def check(candidate):\n    assert candidate(1) == 2\n"
                    "    assert candidate(2) == 3\n", "entry_point": "f"}
SPECS = {"call": CALL, "stdin": STDIN, "assert": ASSERT}


def verdict(source: str, tests: dict, **options) -> CodeResult:
    options.setdefault("timeout", TIMEOUT)
    return verify_code(textwrap.dedent(source), tests, extract=False, **options)


def timed(source: str, tests: dict, **options) -> tuple[CodeResult, float]:
    start = time.perf_counter()
    result = verdict(source, tests, **options)
    return result, time.perf_counter() - start


# ----------------------------------------------------------------------------- time

def test_infinite_loop_times_out():
    """A busy loop in the function: a timeout within the limit, the rest skipped."""
    result, seconds = timed("def f(x):\n    while True:\n        pass\n", CALL)
    assert result.outcomes == ["timeout", "skipped"] and seconds < TIMEOUT + SLACK


def test_sleep_forever_times_out():
    """A sleeping function (no CPU used): the wall clock still ends it."""
    result, seconds = timed("import time\ndef f(x):\n    time.sleep(10 ** 6)\n", CALL)
    assert result.outcomes == ["timeout", "skipped"] and seconds < TIMEOUT + SLACK


def test_infinite_loop_while_loading_times_out():
    """A loop at the top level of a stdin program: a timeout, not a stall."""
    result, seconds = timed("while True:\n    pass\n", STDIN)
    assert result.outcomes == ["timeout"] and seconds < TIMEOUT + SLACK


# ----------------------------------------------------------------------------- output

def test_unbounded_output_is_cut():
    """Printing forever is killed at the output cap."""
    result, seconds = timed("def f(x):\n    while True:\n        print('y' * 1000)\n", CALL)
    assert result.outcomes[0] == "output_limit" and seconds < TIMEOUT + SLACK


def test_single_huge_write_is_cut():
    """One 64 MiB write: killed at the 1 MiB cap, not buffered whole. (Building and
    encoding the string takes a while on a loaded machine: the test gets SLACK seconds,
    the run must still end within TIMEOUT + SLACK.)"""
    source = "import sys\nsys.stdout.write('y' * (64 << 20))\nsys.stdout.flush()\n"
    result, seconds = timed(source, STDIN, timeout=SLACK)
    assert result.outcomes == ["output_limit"] and seconds < TIMEOUT + SLACK


def test_huge_return_value_is_cut():
    """An 8 MiB return value exceeds the 1 MiB reply cap: output_limit."""
    result = verdict("def f(x):\n    return 'y' * (8 << 20)\n", CALL)
    assert result.outcomes[0] == "output_limit"


# ----------------------------------------------------------------------------- memory, processes

def test_memory_bomb_hits_the_memory_limit():
    """About 100 GiB of allocations under a 256 MiB limit: memory_limit (the limit is
    reached after 256 MiB are written, which a loaded machine may take over a second for:
    the test gets SLACK seconds)."""
    source = "def f(x):\n    hog = [bytearray(1 << 20) for _ in range(100_000)]\n    return 2\n"
    result = verdict(source, CALL, memory_mb=256, timeout=SLACK)
    assert result.outcomes[0] == "memory_limit"


@pytest.mark.skipif(LEVEL is not None and ROOT and LEVEL not in ("namespaces", "uid"),
                    reason="RLIMIT_NPROC does not bind a root uid at this level")
def test_fork_bomb_is_bounded():
    """Every fork sleeps; the program reports how many forks succeeded: at most the limit."""
    source = """
        import os, time
        def f(x):
            forks = 0
            for _ in range(500):
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                forks += 1
            return forks
    """
    result, seconds = timed(source, {"fn_name": "f", "cases": [{"args": [0], "expected": -1}]})
    limit = Limits().max_processes
    assert result.outcomes == ["wrong_answer"]
    assert 0 < result.first_failure["got"] < limit and seconds < TIMEOUT + SLACK


def test_file_size_is_limited():
    """A file may grow to Limits.file_mb (16 MiB), no further."""
    source = """
        def f():
            with open("big.bin", "wb") as handle:
                try:
                    for _ in range(64):
                        handle.write(bytes(1 << 20))
                        handle.flush()
                except OSError as err:
                    return type(err).__name__, handle.tell() >> 20
            return "wrote 64 MiB", 64
    """
    result = verdict(source, {"fn_name": "f", "cases": [{"args": [], "expected": None}]})
    assert result.first_failure["got"] == ("OSError", Limits().file_mb)


def test_open_files_are_limited():
    """Opening files without end stops below the open-files limit."""
    source = """
        import os
        def f():
            handles = []
            try:
                for _ in range(10_000):
                    handles.append(os.open("/dev/null", os.O_RDONLY))
            except OSError as err:
                return type(err).__name__, len(handles)
            return "unlimited", len(handles)
    """
    result = verdict(source, {"fn_name": "f", "cases": [{"args": [], "expected": None}]})
    error, opened = result.first_failure["got"]
    assert error == "OSError" and opened < Limits().open_files


@pytest.mark.parametrize("kind", ["call", "stdin"])
def test_stdin_is_finite(kind):
    """Reading past the given input ends at once with EOF, never blocks."""
    source = {"call": "def f(x):\n    return input()\n",
              "stdin": "import sys\nprint(len(sys.stdin.read()) + len(sys.stdin.read()))\n"}[kind]
    tests = {"call": CALL, "stdin": {"cases": [{"input": "abc", "output": "3"}]}}[kind]
    result, seconds = timed(source, tests)
    expected = {"call": ["runtime_error", "runtime_error"], "stdin": ["pass"]}[kind]
    assert result.outcomes == expected and seconds < 1.0 + SLACK
    if kind == "call":
        assert "EOFError" in result.reason


def test_working_directory_is_fresh_and_removed():
    """The program starts in an empty directory of its own, gone after the run."""
    source = """
        import os
        def f():
            open("left-behind.txt", "w").write("x")
            return os.getcwd(), sorted(os.listdir("."))
    """
    result = verdict(source, {"fn_name": "f", "cases": [{"args": [], "expected": None}]})
    cwd, listing = result.first_failure["got"]
    assert listing == ["left-behind.txt"]
    if NAMESPACES:
        assert cwd == "/sandbox"  # a tmpfs in the run's own mount namespace
    else:
        assert not os.path.exists(cwd)


@pytest.mark.parametrize("kind", ["call", "stdin"])
def test_child_holding_the_pipes_does_not_stall(kind):
    """A grandchild that keeps stdout and the reply pipe open does not delay the verdict."""
    hold = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\n"
    source = {"call": hold + "def f(x):\n    return x + 1\n",
              "stdin": hold + "print(sum(map(int, input().split())))\n"}[kind]
    result, seconds = timed(source, SPECS[kind])
    assert result.passed and seconds < 1.0 + SLACK


# ----------------------------------------------------------------------------- the runner

@needs_signal_safety
def test_program_cannot_kill_the_runner():
    """SIGKILL to its parent, to the runner's pid and to -1: the verdict still arrives."""
    source = f"""
        import os
        def f(x):
            for pid in (os.getppid(), {os.getpid()}, 1, -1):
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            return x + 1
    """
    result = verdict(source, CALL)
    assert result.passed and result.outcomes == ["pass", "pass"]


def test_environment_is_scrubbed(monkeypatch):
    """No variable of the caller's environment reaches the program."""
    monkeypatch.setenv("SRPO_CANARY", "canary-6f1d")
    result = verdict("import os\ndef f():\n    return dict(os.environ)\n",
                     {"fn_name": "f", "cases": [{"args": [], "expected": None}]})
    environment = result.first_failure["got"]
    assert "SRPO_CANARY" not in environment and "canary-6f1d" not in str(environment)
    assert set(environment) <= set(SANDBOX_ENV) | {"HOME", "TMPDIR"}


# ----------------------------------------------------------------------------- filesystem

@pytest.fixture
def outside_dir():
    """A world-readable, world-writable directory of the host, outside any sandbox."""
    path = tempfile.mkdtemp(prefix="srpo-outside-", dir="/tmp")
    os.chmod(path, 0o777)
    yield path
    for name in os.listdir(path):
        os.remove(os.path.join(path, name))
    os.rmdir(path)


@needs_namespaces
def test_cannot_read_files_outside_the_sandbox(outside_dir):
    """A world-readable host file does not exist for the program."""
    secret = os.path.join(outside_dir, "secret.txt")
    with open(secret, "w") as handle:
        handle.write("secret-8a2c")
    os.chmod(secret, 0o644)
    source = f"""
        def f():
            try:
                return open({secret!r}).read()
            except OSError as err:
                return type(err).__name__
    """
    result = verdict(source, {"fn_name": "f", "cases": [{"args": [], "expected": "secret-8a2c"}]})
    assert result.outcomes == ["wrong_answer"]
    assert result.first_failure["got"] == "FileNotFoundError"


@needs_namespaces
def test_cannot_write_outside_the_sandbox(outside_dir):
    """Writing a host directory fails; writing its own working directory works."""
    target = os.path.join(outside_dir, "planted")
    source = f"""
        def f():
            with open("mine.txt", "w") as handle:
                handle.write("ok")
            try:
                open({target!r}, "w").write("x")
            except OSError as err:
                return type(err).__name__
            return "written"
    """
    result = verdict(source, {"fn_name": "f", "cases": [{"args": [], "expected": "written"}]})
    assert result.first_failure["got"] == "FileNotFoundError" and not os.path.exists(target)


@needs_namespaces
def test_os_system_stays_inside_the_sandbox(outside_dir):
    """A shell started by the program has the program's view: no host file appears."""
    target = os.path.join(outside_dir, "from-shell")
    source = f"import os\ndef f(x):\n    os.system('echo x > {target}')\n    return x + 1\n"
    result = verdict(source, CALL)
    assert result.passed and not os.path.exists(target)


@needs_namespaces
def test_no_network():
    """A TCP connection to a listener of the runner on 127.0.0.1 never arrives."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        source = f"""
            import socket
            def f():
                try:
                    socket.create_connection(("127.0.0.1", {port}), timeout=1).sendall(b"x")
                except OSError as err:
                    return type(err).__name__
                return "connected"
        """
        result = verdict(source, {"fn_name": "f", "cases": [{"args": [], "expected": "connected"}]})
        with pytest.raises(socket.timeout):
            listener.accept()
    assert result.outcomes == ["wrong_answer"] and result.first_failure["got"] == "OSError"


# ----------------------------------------------------------------------------- the verdict

ALWAYS_EQUAL = """
    class Anything:
        def __eq__(self, other):
            return True
        __hash__ = object.__hash__
        def __ne__(self, other):
            return False
        def __bool__(self):
            return True
    def f(x):
        return Anything()
"""


@pytest.mark.parametrize("kind", ["call", "assert"])
def test_always_equal_object_fails(kind):
    """An object whose `__eq__` is always True never reaches a comparison."""
    result = verdict(ALWAYS_EQUAL, SPECS[kind])
    assert not result.passed and "not plain data" in result.reason


@pytest.mark.parametrize("kind", ["call", "stdin", "assert"])
def test_sys_exit_zero_before_the_tests_fails(kind):
    """Exiting with status 0 before any test runs passes nothing."""
    result = verdict("import sys\nsys.exit(0)\ndef f(x):\n    return x + 1\n", SPECS[kind])
    assert not result.passed and result.pass_fraction == 0.0


@pytest.mark.parametrize("kind", ["call", "assert"])
def test_os_exit_in_the_function_fails(kind):
    """os._exit(0) inside the function is a runtime_error, not a pass."""
    result = verdict("import os\ndef f(x):\n    os._exit(0)\n", SPECS[kind])
    assert not result.passed and result.outcomes[0] == "runtime_error"


FORGER = """
    import marshal, os
    def frame(obj):
        data = marshal.dumps(obj, 2)
        return len(data).to_bytes(4, "little") + data
    # Verdicts, not answers: forged replies can only claim return values, which the
    # program could as well return; what must fail is claiming a *pass*.
    FORGED = [frame(m) for m in (("loaded",), ("ok", "pass"), ("end", 0, "pass", ""),
                                 ("end", 1, "pass", ""), ("finished",), ("done", 0, None))]
    FORGED.append(b'{"event":"case","index":0,"outcome":"pass"}\\n{"event":"done"}\\n')
    def forge():
        for fd in range(3, 1024):
            for message in FORGED:
                try:
                    os.write(fd, message)
                except OSError:
                    pass
    forge()
    def f(x):
        forge()
        return -x
    print("3")
"""


@pytest.mark.parametrize("kind", ["call", "stdin", "assert"])
def test_forging_the_result_channel_fails(kind):
    """Well-formed fake verdicts on every fd (checker messages, harness reports, report
    lines, a "pass" reply), from the top level and from the function: no pass."""
    result = verdict(FORGER, SPECS[kind] if kind != "stdin" else
                     {"cases": [{"input": "", "output": "4\n"}]})
    assert not result.passed and "pass" not in result.outcomes


def test_monkeypatching_json_and_marshal_fails():
    """Replacing json, marshal and isinstance in the program's process forges nothing."""
    source = """
        import builtins, json, marshal
        json.dumps = lambda *a, **k: "true"
        json.loads = lambda *a, **k: True
        marshal.dumps = lambda *a, **k: marshal.loads(b"T")
        builtins.isinstance = lambda *a: True
        def f(x):
            return -x
    """
    for kind in ("call", "assert"):
        result = verdict(source, SPECS[kind])
        assert not result.passed and "pass" not in result.outcomes, kind


def test_correct_output_with_trailing_whitespace_crlf_and_blank_lines_passes():
    """Trailing spaces, CRLF and blank lines around a right answer still pass."""
    source = "a, b = map(int, input().split())\nprint(f'{a + b}   ', end='\\r\\n\\r\\n\\n')\n"
    assert verdict(source, STDIN).outcomes == ["pass"]


def test_a_stalled_harness_is_killed_by_the_backstop(monkeypatch):
    """Should the harness itself hang, the runner's deadline kills its whole tree and
    reports timeouts: nothing can hold verify_code past its bound."""
    stalled = {name: compile("", name, "exec") for name in sandbox.HARNESS_MODULES}
    stalled["_child"] = compile("import os, time\nos.fork()\ntime.sleep(60)\n", "_child", "exec")
    monkeypatch.setattr(sandbox, "_harness_code", [sandbox._frame(stalled)])
    monkeypatch.setattr(sandbox, "BACKSTOP_SLACK", 0.5)
    result, seconds = timed("def f(x):\n    return x + 1\n", CALL, timeout=0.2)
    assert result.outcomes == ["timeout", "timeout"] and "backstop" in result.reason
    assert seconds < 0.5 + 3 * 1.2 + SLACK


# ----------------------------------------------------------------------------- leftovers

def _process(pid: int):
    """(parent pid, state, uid, command line) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        return int(stat[1]), stat[0].decode(), os.stat(f"/proc/{pid}").st_uid, cmdline
    except OSError:
        return None


def _is_sandbox(info) -> bool:
    _, _, uid, cmdline = info
    return (PROGRAM_UIDS[0] <= uid < PROGRAM_UIDS[1] or "_child_roles" in cmdline
            or cmdline.startswith("unshare "))


def _leftovers() -> list[str]:
    """Sandbox processes that are ours or orphaned (not those of another test run on a
    shared machine, which hang below their own runner), and zombie children of ours."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        info = _process(int(entry))
        if info is None:
            continue
        if info[0] == os.getpid() and info[1] == "Z":
            found.append(f"zombie {entry}: {info[3][:60]}")
            continue
        if not _is_sandbox(info):
            continue
        parent = info[0]  # climb the sandbox processes up to whoever runs them
        while parent > 1 and parent != os.getpid():
            above = _process(parent)
            if above is None or not _is_sandbox(above):
                break
            parent = above[0]
        if parent in (0, 1, os.getpid()):
            found.append(f"pid {entry} uid {info[2]} state {info[1]}: {info[3][:60]}")
    return found


def test_no_stray_process_or_zombie_remains():
    """After every run above (and a last hostile one), nothing of any sandbox is left."""
    verdict("import os, time\ndef f(x):\n    os.fork(); os.fork()\n    time.sleep(60)\n", CALL)
    deadline = time.monotonic() + 2.0
    while _leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _leftovers() == []
