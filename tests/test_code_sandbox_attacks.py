"""The attacks of issue 14 against the code verifier, one regression test each.

A red-team pass found reward hacks that passed at every isolation level (names injected
into the assert checker, StopIteration through `map`, HumanEval helpers redefined by the
program), replies that pinned or bloated the trusted harness (shared-reference marshal
bombs), memory that the address-space limit did not count (memfd, System V shared
memory), a math worker that imported a module planted in the working directory, and a
silent fall-back from `namespaces` to `uid` when Python lives in a virtual environment
under /tmp, where programs read the verifier's own input file through /proc. Each test
here failed on the code before the fix. Tests that need the namespaces level fail (not
skip) without it, unless a weaker level was asked for by SRPO_SANDBOX_ISOLATION.

Run: python -m pytest tests/test_code_sandbox_attacks.py -q
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

import srpo_mini
from srpo_mini.verifiers import sandbox
from srpo_mini.verifiers.code import CodeResult, verify_code, verify_code_batch
from srpo_mini.verifiers.workers import WorkerPool

TIMEOUT = 1.0
SLACK = 3.0  # a loaded 2-core machine: generous, still far below the backstop (12 s+)
ASKED = os.environ.get(sandbox.OPT_IN)  # a weaker level asked for by name, or None
CLI = "import sys; from srpo_mini.cli import main; sys.exit(main(sys.argv[1:]))"
# Properties of the namespace levels: skipped only where a weaker level was asked for.
weaker_than_namespaces_skips = pytest.mark.skipif(ASKED in ("uid", "rlimits"),
                                                  reason=f"weaker level asked for: {ASKED}")


def verdict(source: str, tests: dict, **options) -> CodeResult:
    """The verdict on a program (its `seconds`: the whole verify_code call)."""
    return verify_code(textwrap.dedent(source), tests, extract=False,
                       **{"timeout": TIMEOUT, **options})


# ----------------------------------------------------------------------------- the checker

def test_injected_names_do_not_reach_the_checker():
    """A program that replaces the harness's `describe_names` to hand the checker its own
    `set` (MBPP task 2's trick): only the names the test code asked for are bound, and
    builtins are the checker's, so the function returning None fails."""
    source = """
        import sys
        roles = sys.modules["_child_roles"]
        roles.describe_names = lambda namespace, names: {
            "similar_elements": ("callable", None), "set": ("callable", None),
            "abs": ("value", 0)}
        def set(*args):
            return 0
        def similar_elements(a, b):
            return None
    """
    tests = {"assert": "assert set(similar_elements((3, 4, 5, 6), (5, 7, 4, 10))) "
                       "== set((4, 5))\n", "entry_point": "similar_elements"}
    result = verdict(source, tests)
    assert result.outcomes == ["runtime_error"] and "NoneType" in result.reason


@pytest.mark.parametrize("consumer", [
    "list(map(f, [1, 2])) == []",
    "list(filter(f, [1, 2])) == []",
    "list(zip([1, 2], map(f, [1, 2]))) == []",
    "list(iter(lambda: f(1), None)) == []",
])
def test_stop_iteration_from_the_program_fails(consumer):
    """StopIteration raised by program code would end the test's iteration quietly and
    pass the assert; it reaches the checker as a failure instead."""
    result = verdict("def f(x):\n    raise StopIteration\n",
                     {"assert": f"assert {consumer}\n", "entry_point": "f"})
    assert result.outcomes == ["runtime_error"] and "raised StopIteration" in result.reason


@pytest.mark.parametrize("kind", ["GeneratorExit", "KeyboardInterrupt", "SystemExit"])
def test_control_flow_exceptions_from_the_program_fail(kind):
    """The other control-flow exceptions, raised in program code, fail the test even
    when the test code swallows everything with a bare `except:`."""
    tests = {"assert": "try:\n    f(1)\nexcept:\n    pass\nassert True\n", "entry_point": "f"}
    result = verdict(f"def f(x):\n    raise {kind}\n", tests)
    assert result.outcomes == ["runtime_error"] and f"raised {kind}" in result.reason


def test_program_death_swallowed_by_the_test_code_fails():
    """os._exit in the function, called inside the test's `try/except:`: not a pass."""
    tests = {"assert": "try:\n    f(1)\nexcept:\n    pass\nassert True\n", "entry_point": "f"}
    result = verdict("import os\ndef f(x):\n    os._exit(0)\n", tests)
    assert result.outcomes == ["runtime_error"] and "exited with code 0" in result.reason


POLY_PROMPT = textwrap.dedent('''
    import math

    def poly(xs: list, x: float):
        """Evaluates polynomial with coefficients xs at point x."""
        return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])

    def find_zero(xs: list):
        """Returns x such that poly(x) = 0."""
''')
POLY_TESTS = {"assert": "def check(candidate):\n"
                        "    import math\n"
                        "    for coeffs in ([1, 2], [-6, 11, -6, 1]):\n"
                        "        assert math.fabs(poly(coeffs, candidate(coeffs))) < 1e-4\n"
                        "check(find_zero)\n", "entry_point": "find_zero"}


def test_helper_defined_by_the_prompt_is_not_taken_from_the_program():
    """HumanEval/32: the program redefines the prompt's `poly` to return 0; the checker
    uses the prompt's `poly`, so a `find_zero` that returns 12345 fails."""
    cheat = "def poly(xs, x):\n    return 0\ndef find_zero(xs):\n    return 12345\n"
    result = verdict(cheat, POLY_TESTS, prompt=POLY_PROMPT)
    assert result.outcomes == ["wrong_answer"]


def test_helper_defined_by_the_prompt_still_serves_a_correct_program():
    """The same test with a correct bisection `find_zero`: it passes with the prompt's
    `poly` (the program's own copy of it is never asked for)."""
    solution = POLY_PROMPT + textwrap.indent(textwrap.dedent("""
        lo, hi = -100.0, 100.0
        for _ in range(200):
            mid = (lo + hi) / 2
            if (poly(xs, lo) < 0) == (poly(xs, mid) < 0):
                lo = mid
            else:
                hi = mid
        return lo
    """), "    ")
    assert verdict(solution, POLY_TESTS, prompt=POLY_PROMPT).outcomes == ["pass"]


# ----------------------------------------------------------------------------- reply bombs

def _own_reply(*build: str) -> str:
    """A program whose function builds `value` (the lines `build`), writes its own reply
    frame (marshal version 4: shared references allowed) to the reply pipe, and waits."""
    return "\n".join(["import marshal, os, time", "def f(x):", *("    " + line for line in build),
                      "    data = marshal.dumps(('ok', value), 4)",
                      "    os.write(4, len(data).to_bytes(4, 'little') + data)",
                      "    time.sleep(30)", ""])


def test_shared_reference_bomb_is_refused_at_once():
    """A ~400-byte frame: a list nested 64 times, each level referenced twice (2**64
    paths). It used to pin the harness until the backstop; now it is malformed at once."""
    source = _own_reply("value = []", "for _ in range(64):", "    value = [value, value]")
    tests = {"fn_name": "f", "cases": [{"args": [i], "expected": i} for i in range(5)]}
    result = verdict(source, tests)
    assert result.outcomes == ["runtime_error"] * 5 and "malformed reply" in result.reason
    assert result.seconds < TIMEOUT + SLACK


def test_expansion_bomb_is_refused_at_once():
    """A frame of ~10 KB naming one 100 KB string 2,000 times (200 MB once re-encoded for
    the runner): refused before it is decoded."""
    source = _own_reply("value = ['y' * 100_000] * 2_000")
    result = verdict(source, {"fn_name": "f", "cases": [{"args": [1], "expected": 1}]})
    assert result.outcomes == ["runtime_error"] and "malformed reply" in result.reason
    assert result.seconds < TIMEOUT + SLACK


def test_names_reply_bomb_is_refused_at_once():
    """The assert path's name lookup answered with a shared-reference bomb (the program
    swaps the harness's frame writer): no pass, and no stall of the harness."""
    source = """
        import marshal, sys
        roles = sys.modules["_child_roles"]
        honest = roles.frame
        def frame(message):
            if message[0] != "names":
                return honest(message)
            value = []
            for _ in range(64):
                value = [value, value]
            data = marshal.dumps(("names", {"f": ("value", value)}), 4)
            return len(data).to_bytes(4, "little") + data
        roles.frame = frame
        def f(x):
            return x + 1
    """
    tests = {"assert": "assert f(1) == 2\nassert f(2) == 3\n", "entry_point": "f"}
    result = verdict(source, tests)
    assert result.outcomes == ["runtime_error"] * 2 and "malformed reply" in result.reason
    assert result.seconds < TIMEOUT + SLACK


# ----------------------------------------------------------------------------- the row's time

def _slow_row(kind: str, n: int, seconds: float) -> tuple[str, dict]:
    """A correct program whose every one of `n` tests sleeps `seconds` first."""
    if kind == "stdin":
        return (f"import time\ntime.sleep({seconds})\nprint(int(input()) + 1)\n",
                {"cases": [{"input": f"{i}\n", "output": f"{i + 1}\n"} for i in range(n)]})
    source = f"import time\ndef f(x):\n    time.sleep({seconds})\n    return x + 1\n"
    if kind == "call":
        return source, {"fn_name": "f", "cases": [{"args": [i], "expected": i + 1}
                                                  for i in range(n)]}
    return source, {"assert": "".join(f"assert f({i}) == {i + 1}\n" for i in range(n)),
                    "entry_point": "f"}


@pytest.mark.parametrize("kind", ["call", "stdin", "assert"])
def test_many_tests_just_under_the_limit_end_at_the_total_budget(kind):
    """50 tests that each sleep 0.6 s of their 1 s limit once held a row for 50 x 0.6 s:
    the run stops at its total budget (3 s here); the test running then is a timeout
    that names the budget, the rest are skipped, and the row fails."""
    source, tests = _slow_row(kind, 50, 0.6)
    result = verdict(source, tests, total_timeout=3.0)
    failed_at = result.first_failure["index"]
    assert not result.passed and 1 <= failed_at <= 5  # at most 3 / 0.6 tests fit
    assert result.outcomes[failed_at:] == ["timeout"] + ["skipped"] * (49 - failed_at)
    assert "total time budget of 3 s was spent" in result.reason
    assert result.seconds < 3.0 + 1.5


def test_default_budget_ends_a_row_well_within_15_seconds():
    """At the default limits (2 s per test, 10 s in all) 50 tests that each sleep 1.9 s
    end after 10 s, not 95 s: under 12 s (the budget plus the runner's grace)."""
    source, tests = _slow_row("call", 50, 1.9)
    result = verify_code(source, tests, extract=False)
    assert not result.passed and "total time budget of 10 s" in result.reason
    assert 10.0 <= result.seconds < 10.0 + sandbox.BUDGET_GRACE


@pytest.mark.parametrize("kind", ["call", "stdin", "assert"])
def test_honest_program_with_many_tests_is_not_cut_by_the_budget(kind):
    """A correct program with 50 fast tests passes them all under the default budget."""
    source, tests = _slow_row(kind, 50, 0.0)
    assert verdict(source, tests).outcomes == ["pass"] * 50


def test_total_budget_must_be_positive():
    """A budget of 0 s would judge nothing: refused, naming the option."""
    with pytest.raises(ValueError, match="total_timeout"):
        verdict("def f(x):\n    return x\n", {"fn_name": "f", "cases": [
            {"args": [1], "expected": 1}]}, total_timeout=0)


# ----------------------------------------------------------------------------- the host

def _processes_with(marker: str) -> list[int]:
    """Pids of live processes (not zombies) whose command line holds `marker`."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != b"Z":
            found.append(int(entry))
    return found


@pytest.mark.parametrize("kind", ["call", "stdin", "assert"])
def test_forked_sleepers_are_gone_after_the_verdict(kind):
    """Every test forks a sleeper (its own child) and a daemon (double fork, new session),
    both re-executed as Python sleeping an hour, then sleeps past the total budget: the
    sleepers run on the host during the row (seen in /proc) and none is left after it."""
    marker = f"srpo-sleeper-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    sleep = [sys.executable, "-c", "import time; time.sleep(3600)", marker]
    spawn = textwrap.dedent(f"""
        import os, time
        def spawn():
            if os.fork() == 0:
                os.execv({sys.executable!r}, {sleep!r})
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv({sys.executable!r}, {sleep!r})
                os._exit(0)
    """)
    source, tests = _slow_row(kind, 5, 0.6)
    source = spawn + source.replace("time.sleep(0.6)", "spawn(); time.sleep(0.6)")
    seen, running = [], threading.Event()

    def watch():
        while not running.wait(0.05):
            seen.extend(_processes_with(marker))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = verdict(source, tests, total_timeout=2.0)
    finally:
        running.set()
        watcher.join()
    deadline = time.monotonic() + 2.0
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen, "the program's sleepers never ran"
    assert "total time budget" in result.reason and _processes_with(marker) == []


@weaker_than_namespaces_skips
def test_files_written_to_tmp_dirs_do_not_reach_the_host():
    """A program writes a file to /tmp, /dev/shm, /var/tmp and its working directory
    (the uid level left 60 MiB files in the first three): the writes it could make land
    in its own tmpfs, and after the verdict no such file exists on the host."""
    name = f"srpo-left-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    directories = ["/tmp", "/dev/shm", "/var/tmp", "."]
    source = f"""
        import os
        def f():
            written = []
            for directory in {directories!r}:
                try:
                    with open(os.path.join(directory, {name!r}), "w") as handle:
                        handle.write("x" * 4096)
                    written.append(directory)
                except OSError:
                    pass
            return written
    """
    result = verdict(source, {"fn_name": "f", "cases": [{"args": [], "expected": None}]})
    assert result.first_failure["got"] == ["/tmp", "."]  # its own /tmp and /sandbox
    host = ["/tmp", "/dev/shm", "/var/tmp", os.getcwd(), "/"]
    assert [d for d in host if os.path.exists(os.path.join(d, name))] == []


@weaker_than_namespaces_skips
def test_host_files_the_uid_level_exposed_are_absent():
    """What a program read at the uid level: /proc (the runner's command line), /etc,
    the project tree, the host's /dev/shm and /var/tmp. None of them exists for it."""
    project = str(Path(srpo_mini.__file__).resolve().parents[1] / "pyproject.toml")
    paths = ["/proc/self/cmdline", "/etc/passwd", project, "/dev/shm", "/var/tmp"]
    source = f"import os\ndef f():\n    return [os.path.exists(p) for p in {paths!r}]\n"
    result = verdict(source, {"fn_name": "f", "cases": [{"args": [], "expected": None}]})
    assert os.path.exists(project) and result.first_failure["got"] == [False] * len(paths)


# ----------------------------------------------------------------------------- memory

@pytest.mark.parametrize("call", [
    "os.memfd_create('x')",
    "ctypes.CDLL(None, use_errno=True).shmget(0, 1 << 20, 0o1600)",
])
def test_memory_outside_the_address_space_is_refused(call):
    """memfd_create and shmget hold memory that RLIMIT_AS does not count (a program kept
    600 MB in a memfd and passed): both are refused with EPERM."""
    source = f"""
        import ctypes, os
        def f():
            try:
                result = {call}
            except OSError as err:
                return err.errno
            return -ctypes.get_errno() if result == -1 else "allowed"
    """
    result = verdict(source, {"fn_name": "f", "cases": [{"args": [], "expected": None}]})
    assert result.first_failure["got"] in (1, -1)  # EPERM, raised or as the errno


def test_memfd_bomb_cannot_pass():
    """The measured attack: 608 MB held in 38 memfds of 16 MB (the file-size limit),
    then the right answer, under a 256 MB memory limit."""
    source = """
        import os
        def f(x):
            held = []
            for _ in range(38):
                held.append(os.memfd_create("hog"))
                for _ in range(16):
                    os.write(held[-1], bytes(1 << 20))
            return x + 1
    """
    tests = {"fn_name": "f", "cases": [{"args": [1], "expected": 2}]}
    result = verdict(source, tests, memory_mb=256)
    assert result.outcomes == ["runtime_error"] and "PermissionError" in result.reason


# ----------------------------------------------------------------------------- outputs

def test_printed_huge_exponent_is_a_wrong_answer_not_an_exception():
    """`print(1e999999999)`-style output under a declared tolerance used to raise
    decimal.Overflow out of verify_code; it is an ordinary wrong answer."""
    result = verdict("print('1e999999999')\n",
                     {"cases": [{"input": "", "output": "1"}], "tolerance": 1e-6})
    assert result.outcomes == ["wrong_answer"]


def test_returned_huge_int_against_a_float_is_a_wrong_answer():
    """An int beyond any float against a float answer with a tolerance: no OverflowError."""
    result = verdict("def f():\n    return 10 ** 400\n",
                     {"fn_name": "f", "cases": [{"args": [], "expected": 1.5}],
                      "tolerance": 1e-6})
    assert result.outcomes == ["wrong_answer"]


STDLIB_PROGRAM = """
    import calendar, dataclasses, queue, textwrap, collections, fractions, heapq, string
    @dataclasses.dataclass
    class Item:
        n: int
    def f(x):
        q = queue.Queue()
        q.put(Item(x))
        width = len(textwrap.wrap("a b c", 1))
        return (q.get().n + width + calendar.isleap(2024) + len(string.digits)
                + collections.Counter("aa")["a"] + int(fractions.Fraction(1, 1))
                + heapq.nsmallest(1, [0])[0])
"""


@pytest.mark.parametrize("level", [level for level in sandbox.LEVELS if sandbox.probe(level)
                                   and not (level == "rlimits" and os.geteuid() == 0)])
def test_standard_library_programs_pass_at_every_supported_level(level):
    """A correct program importing queue, dataclasses, textwrap, calendar, ... passes at
    each level this machine supports (the uid level once failed on a private Python)."""
    result = verdict(STDLIB_PROGRAM, {"fn_name": "f", "cases": [{"args": [1], "expected": 18}]},
                     isolation=level)
    assert result.outcomes == ["pass"], result.reason


# ----------------------------------------------------------------------------- fail closed

@pytest.fixture
def no_unshare(monkeypatch):
    """A machine without `unshare`: the namespace levels cannot be set up."""
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(sandbox.OPT_IN, raising=False)
    monkeypatch.setattr(sandbox, "_detected", {})  # forget this process's earlier probe


def test_no_silent_fall_back_to_a_weaker_level(no_unshare):
    """Namespaces unavailable: an error naming the cause and the opt-in, never a level."""
    with pytest.raises(sandbox.SandboxUnavailable) as raised:
        sandbox.detect_isolation(refresh=True)
    message = str(raised.value)
    assert "'namespaces'" in message and "unshare" in message
    assert f"{sandbox.OPT_IN}=" in message


def test_batch_fails_closed_instead_of_judging_rows(no_unshare):
    """verify_code_batch raises; it never turns a missing sandbox into failed rows."""
    with pytest.raises(sandbox.SandboxUnavailable):
        verify_code_batch(["def f():\n    return 1\n"],
                          [{"fn_name": "f", "cases": [{"args": [], "expected": 1}]}],
                          extract=False)


def test_weaker_level_is_used_only_when_named_and_then_shown(tmp_path, monkeypatch):
    """SRPO_SANDBOX_ISOLATION=rlimits: that level is used, `verify-code` records it in
    every row and names it on stderr; a name that is not a level is an error."""
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"id": "a", "program": "print(1)",
                                "tests": {"cases": [{"input": "", "output": "1"}]}}) + "\n")
    env = dict(os.environ, **{sandbox.OPT_IN: "rlimits"})
    done = subprocess.run([sys.executable, "-c", CLI, "verify-code", "--input", str(rows)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert json.loads(done.stdout)["isolation"] == "rlimits" and done.returncode == 0
    assert "weaker isolation level 'rlimits'" in done.stderr
    assert sandbox.isolation_note("namespaces") == ""
    monkeypatch.setenv(sandbox.OPT_IN, "chroot")
    with pytest.raises(sandbox.SandboxUnavailable, match="not a level"):
        sandbox.detect_isolation()


def test_cli_stops_with_the_cause_when_the_sandbox_is_unavailable(tmp_path):
    """`srpo-mini verify-code` without a usable namespace level: exit 1, the reason and
    the opt-in on stderr, no verdict rows."""
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"id": "a", "program": "print(1)",
                                "tests": {"cases": [{"input": "", "output": "1"}]}}) + "\n")
    env = {key: value for key, value in os.environ.items() if key != sandbox.OPT_IN}
    env["PATH"] = "/nonexistent"
    done = subprocess.run([sys.executable, "-c", CLI, "verify-code", "--input", str(rows)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert "cannot run at the 'namespaces' isolation level" in done.stderr
    assert sandbox.OPT_IN in done.stderr


# ----------------------------------------------------------------------------- layouts

@pytest.fixture(scope="module")
def tmp_venv():
    """A virtual environment under /tmp (the layout that once fell back to uid), seeing
    this checkout and the packages of the running interpreter through a .pth file."""
    root = Path(tempfile.mkdtemp(prefix="srpo-venv-", dir="/tmp"))
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(root)], check=True, timeout=120)
    packages = subprocess.run([str(root / "bin" / "python"), "-c",
                               "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              capture_output=True, text=True, check=True).stdout.strip()
    paths = [str(Path(srpo_mini.__file__).resolve().parents[1]), *site.getsitepackages()]
    Path(packages, "srpo_checkout.pth").write_text("\n".join(paths) + "\n")
    yield root
    subprocess.run(["rm", "-rf", str(root)], check=False)


def _in_venv(venv: Path, *args: str, cwd: str = "/") -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != sandbox.OPT_IN}
    if ASKED is not None:
        env[sandbox.OPT_IN] = ASKED
    return subprocess.run([str(venv / "bin" / "python"), "-I", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def test_probe_from_a_venv_under_tmp_gets_namespaces(tmp_venv):
    """From a venv under /tmp the level is namespaces: Python's prefixes are bound before
    the sandbox's own tmpfs covers /tmp (it used to fail and quietly pick uid)."""
    done = _in_venv(tmp_venv, "-c", "import sys; from srpo_mini.verifiers import sandbox; "
                    "print(sys.prefix); print(sandbox.detect_isolation())")
    prefix, level = done.stdout.split()
    assert prefix == str(tmp_venv) and level == (ASKED or "namespaces"), done.stderr


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON)
                    or os.path.realpath(SYSTEM_PYTHON) == os.path.realpath(sys.executable),
                    reason="no system Python apart from the one running the tests")
def test_system_python_runs_at_every_level_it_probes():
    """The distribution's Python (its stdlib under /usr, readable by all): namespaces is
    the level, and a standard-library program passes at every level whose probe works."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(srpo_mini.__file__).resolve().parents[1])!r})
        from srpo_mini.verifiers import sandbox
        from srpo_mini.verifiers.code import verify_code
        print(sandbox.detect_isolation())
        tests = {{"fn_name": "f", "cases": [{{"args": [1], "expected": 18}}]}}
        for level in sandbox.LEVELS[:3]:
            if sandbox.probe(level):
                result = verify_code({textwrap.dedent(STDLIB_PROGRAM)!r}, tests,
                                     extract=False, isolation=level)
                print(level, *result.outcomes)
    """)
    env = {key: value for key, value in os.environ.items() if key != sandbox.OPT_IN}
    done = subprocess.run([SYSTEM_PYTHON, "-I", "-c", script], capture_output=True, text=True,
                          env=env, cwd="/", timeout=300)
    level, *runs = done.stdout.splitlines()
    assert level == "namespaces" and runs[0] == "namespaces pass", done.stderr[-2000:]
    assert all(line.endswith(" pass") for line in runs)


STEAL = textwrap.dedent("""
    import json, os, sys
    def rows():
        for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
            try:
                argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
                path = argv[argv.index(b"--input") + 1].decode()
                return [json.loads(line) for line in open(path)]
            except (OSError, ValueError, IndexError):
                continue
        return []
    def answer(data):
        for row in rows():
            for case in row["tests"].get("cases", []):
                if case.get("input") == data or case.get("args") == data:
                    return case.get("output", case.get("expected"))
        return None
    def f(*args):
        return answer(list(args))
    if __name__ == "__main__":
        print(answer(sys.stdin.read()))
""")


@weaker_than_namespaces_skips
def test_whole_verifier_from_a_venv_under_tmp(tmp_venv):
    """`srpo-mini verify-code` run by the venv's Python: namespaces, right verdicts, and a
    program that reads the expected outputs from the verifier's --input file (found
    through /proc/*/cmdline, a world-readable file) passes neither a stdin nor a call task."""
    folder = tempfile.mkdtemp(prefix="srpo-rows-", dir="/tmp")
    os.chmod(folder, 0o755)
    rows = Path(folder, "rows.jsonl")
    stdin_tests = {"cases": [{"input": "5 7\n", "output": "12"}]}
    call_tests = {"fn_name": "f", "cases": [{"args": [5, 7], "expected": 12}]}
    rows.write_text("".join(json.dumps(row) + "\n" for row in [
        {"id": "good", "program": "print(sum(map(int, input().split())))", "tests": stdin_tests},
        {"id": "steal-stdin", "program": STEAL, "tests": stdin_tests},
        {"id": "steal-call", "program": STEAL, "tests": call_tests}]))
    os.chmod(rows, 0o644)
    try:
        done = _in_venv(tmp_venv, "-c", CLI, "verify-code", "--input", str(rows))
    finally:
        rows.unlink()
        os.rmdir(folder)
    verdicts = {row["id"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert {row["isolation"] for row in verdicts.values()} == {ASKED or "namespaces"}
    assert [verdicts[key]["passed"] for key in ("good", "steal-stdin", "steal-call")] == \
        [True, False, False], done.stderr


def test_math_worker_ignores_a_module_planted_in_the_working_directory(tmp_path):
    """A `json.py` planted in a world-writable directory is not imported by a math worker
    started from there (workers used `python -m`, which puts the cwd first on the path)."""
    planted = tmp_path / "planted"
    planted.mkdir()
    planted.chmod(0o777)
    marker = tmp_path / "imported"
    (planted / "json.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    before = os.getcwd()
    os.chdir(planted)
    try:
        pool = WorkerPool("math:sqrt", size=1, memory_mb=0, start_timeout=30)
        result = pool.run(16.0, timeout=30)
        pool.close()
    finally:
        os.chdir(before)
    assert result.status == "ok" and result.value == 4.0 and not marker.exists()
