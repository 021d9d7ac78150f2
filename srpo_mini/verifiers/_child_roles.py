"""What runs in the sandbox's program process (U) and checker process (T); the wire format.

Imported by `_child.py` inside the sandbox (built-in and C modules only). See `_child.py`
for the three processes and who trusts whom.

Frames between processes: 4-byte little-endian length, then a marshal (version 2)
payload. Values cross from U only as *plain data*: H checks a frame's bytes with
`check_frame` before decoding it (exact PLAIN types, no shared references, node, depth
and time budgets), so no object with its own `__eq__`, `__hash__` or `__bool__`, and no
reply that decodes to more than its own size, ever reaches the checker or the runner.
"""

import builtins
import marshal
import os
import sys

import _json

PLAIN = (type(None), bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)
BUILTIN_ERRORS = {name for name, value in vars(builtins).items()
                  if isinstance(value, type) and issubclass(value, Exception)}
dumps, loads = marshal.dumps, marshal.loads


# ----------------------------------------------------------------------------- wire format

def frame(obj) -> bytes:
    data = dumps(obj, 2)
    return len(data).to_bytes(4, "little") + data


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_exact(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int):
    return loads(read_exact(fd, int.from_bytes(read_exact(fd, 4), "little")))


class Unplain(Exception):
    """A value or frame that is not plain data, or over a budget."""


# Marshal type codes of plain data: fixed size after the code, or the size of the count
# field before the bytes / items. No shared references ("r", flag 0x80), no code objects,
# no other type: a frame of N bytes then decodes to at most N nodes, a tree, built in
# time linear in N (sets and dict keys hash each node once).
_FIXED = {ord(c): n for c, n in (("N", 0), ("F", 0), ("T", 0), ("i", 4), ("g", 8),
                                   ("y", 16))}
_SIZED = {ord(c): n for c, n in (("s", 4), ("t", 4), ("u", 4), ("a", 4), ("A", 4), ("z", 1),
                                   ("Z", 1), ("f", 1))}
_CONTAINERS = {ord(c): n for c, n in (("(", 4), (")", 1), ("[", 4), ("<", 4), (">", 4))}
_LONG, _COMPLEX_TEXT, _DICT, _NULL = ord("l"), ord("x"), ord("{"), ord("0")
MAX_DEPTH = 100


def check_frame(data: bytes, deadline: float, max_nodes: int = 1 << 20) -> None:
    """Raise `Unplain` unless `data` is one marshal value of plain data, nested at most
    MAX_DEPTH deep, of at most `max_nodes` values, checked before `deadline` (monotonic).
    Runs before `marshal.loads` ever sees the bytes of a frame from the program."""
    clock = __import__("time").monotonic
    size, pos, nodes = len(data), 0, 0
    stack = [1]  # values still to read at each open level (-1: a dict, until NULL)
    while stack:
        if stack[-1] == 0:
            stack.pop()
            continue
        if pos >= size:
            raise Unplain("truncated frame")
        code = data[pos]
        pos += 1
        if code == _NULL and stack[-1] < 0:  # a dict ends (its item count was even)
            if -stack.pop() % 2 == 0:
                raise Unplain("dict key without a value")
            continue
        stack[-1] -= 1 if stack[-1] > 0 else 1  # dicts count down from -1: -2, -3, ...
        nodes += 1
        if nodes > max_nodes or (nodes & 4095 == 0 and clock() > deadline):
            raise Unplain("a reply too large to decode in time")
        if code in _FIXED:
            pos += _FIXED[code]
        elif code in _SIZED:
            width = _SIZED[code]
            pos += width + int.from_bytes(data[pos:pos + width], "little")
        elif code == _LONG:
            pos += 4 + 2 * abs(int.from_bytes(data[pos:pos + 4], "little", signed=True))
        elif code == _COMPLEX_TEXT:
            pos += 1 + data[pos]
            pos += 1 + data[pos] if pos < size else 0
        elif code in _CONTAINERS or code == _DICT:
            if len(stack) > MAX_DEPTH:
                raise Unplain(f"nesting deeper than {MAX_DEPTH}")
            width = _CONTAINERS.get(code, 0)
            stack.append(int.from_bytes(data[pos:pos + width], "little") if width else -1)
            pos += width
        else:
            raise Unplain(f"marshal type {code:#x} is not plain data")
        if pos > size:
            raise Unplain("truncated frame")
    if pos != size:
        raise Unplain("bytes after the value")


def to_json(value) -> str:
    """Plain data as tagged JSON: lists and scalars natively; tuple, dict, set, frozenset,
    bytes, complex and huge ints as one-key objects {"t"|"d"|"s"|"f"|"b"|"c"|"i": ...}."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value) if value.bit_length() < 8000 else '{"i":"%x"}' % value
    if kind is float:
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if kind is str:
        return _json.encode_basestring_ascii(value)
    if kind is list:
        return "[" + ",".join([to_json(v) for v in value]) + "]"
    if kind is tuple:
        return '{"t":[' + ",".join([to_json(v) for v in value]) + "]}"
    if kind is dict:
        return '{"d":[' + ",".join(["[%s,%s]" % (to_json(k), to_json(v))
                                    for k, v in value.items()]) + "]}"
    if kind in (set, frozenset):
        tag = "s" if kind is set else "f"
        return '{"%s":[%s]}' % (tag, ",".join([to_json(v) for v in value]))
    if kind is bytes:
        return '{"b":"%s"}' % value.hex()
    if kind is complex:
        return '{"c":[%s,%s]}' % (to_json(value.real), to_json(value.imag))
    raise Unplain(kind.__name__)


# ----------------------------------------------------------------------------- program (U)

def program_serve(source: str, module_name: str, calls=None) -> None:
    """U for call and assert tests: load the program, then answer on fd 4.

    With `calls` (call-based tests: (name, args, kwargs) each), run them in order without
    waiting, one reply each; H times every reply. Otherwise answer requests read on fd 3
    (assert tests, from T through H): ("call", name, args, kwargs) and ("get", names).
    Replies: ("ok", value), ("exc", type name, message), ("unplain", type name),
    ("names", {name: (kind, value)}). The serializer and fds were bound before the
    program ran; whatever the program writes to fd 4 itself can only claim return values.
    """
    send = lambda obj: write_all(4, frame(obj))  # noqa: E731
    try:
        code = compile(source, "<program>", "exec")
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as err:
        send(("syntax_error", f"{type(err).__name__}: {err}"))
        return
    namespace = program_module(module_name)
    try:
        if "class Solution" in source:  # LeetCode predefines List, Optional, ...
            exec("from typing import *", namespace)
        exec(code, namespace)
    except BaseException as err:  # includes SystemExit: exiting while loading is a failure
        send(("load_error", type(err).__name__, describe(err)))
        return
    send(("loaded",))
    requests = iter(("call",) + call for call in calls) if calls is not None else None
    while True:
        request = next(requests, None) if requests is not None else read_frame(3)
        if request is None:
            return
        if request[0] == "get":
            send(("names", describe_names(namespace, request[1])))
            continue
        _, name, args, kwargs = request
        try:
            value = resolve(namespace, name)(*args, **kwargs)
        except BaseException as err:
            send(("exc", type(err).__name__, describe(err)))
            continue
        try:
            data = frame(("ok", value))
        except (ValueError, TypeError, RecursionError):
            send(("unplain", type(value).__name__))
            continue
        write_all(4, data)


def program_module(name: str) -> dict:
    """The globals of a fresh module `name`, registered in sys.modules as a module run
    from a file would be (dataclasses, pickle and typing look their class's module up)."""
    module = sys.modules[name] = type(sys)(name)
    module.__builtins__ = builtins
    return module.__dict__


def resolve(namespace: dict, name: str):
    """The program's function `name`, or the method of a fresh LeetCode-style `Solution()`."""
    function = namespace.get(name)
    if function is not None and callable(function):
        return function
    solution = namespace.get("Solution")
    if isinstance(solution, type) and hasattr(solution, name):
        return getattr(solution(), name)
    raise NameError(f"the program defines no function {name!r}")


def describe_names(namespace: dict, names: list) -> dict:
    found = {}
    for name in names:
        value = namespace.get(name, found)
        if value is found:
            continue
        if type(value) is type(sys):
            found[name] = ("module", value.__name__)
        elif type(value) in PLAIN and marshallable(value):  # and small: see marshallable
            found[name] = ("value", value)
        elif callable(value):
            found[name] = ("callable", None)
    return found


def marshallable(value, limit: int = 1 << 16) -> bool:
    """Whether `value` serializes, in at most `limit` bytes."""
    try:
        return len(dumps(value, 2)) <= limit
    except (ValueError, TypeError, RecursionError):
        return False


def describe(err: BaseException) -> str:
    try:
        return str(err)[:300]
    except BaseException:
        return "<unprintable>"


def program_script(source: str) -> None:
    """U for stdin tests: run the program as __main__ on fd 0, then report on fd 4.

    Finishes like the interpreter does (join threads, atexit, flush) so that programs
    that print from a thread or at exit behave as under `python prog.py`.
    """
    try:
        code = compile(source, "<program>", "exec")
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as err:
        write_all(4, frame(("syntax_error", f"{type(err).__name__}: {err}")))
        return
    status, error = 0, None
    try:
        exec(code, program_module("__main__"))
    except SystemExit as exit_:
        status = exit_code(exit_)
    except BaseException as err:
        status, error = 1, type(err).__name__
        print_exception(err)
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        import atexit
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.__stdout__, sys.stderr):
            stream.flush()
    except SystemExit as exit_:
        status = exit_code(exit_)
    except BaseException as err:
        status, error = status or 1, error or type(err).__name__
    write_all(4, frame(("done", status, error)))
    os._exit(status & 0xFF)


def exit_code(exit_: SystemExit) -> int:
    if exit_.code is None:
        return 0
    if type(exit_.code) is int:
        return exit_.code
    print(exit_.code, file=sys.stderr)
    return 1


def print_exception(err: BaseException) -> None:
    try:
        import traceback
        traceback.print_exception(err, file=sys.stderr)
    except BaseException:
        pass


# ----------------------------------------------------------------------------- checker (T)

class CheckerStop(BaseException):
    """Ends an assert test with an outcome (the program died, ran out of time, or raised
    a control-flow exception)."""

    def __init__(self, outcome: str, detail: str):
        super().__init__(detail)
        self.outcome, self.detail = outcome, detail


# Exceptions that steer the caller's control flow instead of reporting an error: raised
# by program code, they would end a `map`, `filter`, `zip` or generator in the test code
# quietly (StopIteration) or look like an exit. From the program they are a failure.
CONTROL_FLOW = {"StopIteration", "StopAsyncIteration", "GeneratorExit", "KeyboardInterrupt",
                "SystemExit"}
NAME_KINDS = {"callable", "value", "module"}


def checker_main(job_fd: int, to_harness: int, from_harness: int) -> None:
    """T: read the test code from the runner, bind the program's names, run each segment.

    The runner's job: segments (test code per test), names (what the test code may take
    from the program, nothing else is bound), setup (trusted code from the problem's
    prompt, run first: helpers such as HumanEval's `poly`). Builtins are T's own.
    """
    job = read_frame(job_fd)
    os.close(job_fd)
    failures = []  # the first failure of program code in the current test: sticky, so a
    # bare `except:` in the test code cannot turn it into a pass

    def fail(outcome: str, detail: str):
        failures.append((outcome, detail))
        raise CheckerStop(outcome, detail)

    def ask(request):
        write_all(to_harness, frame(request))
        reply = read_frame(from_harness)
        if reply[0] == "died":
            raise CheckerStop(reply[1], reply[2])
        return reply

    def proxy(name):
        def call(*args, **kwargs):
            try:
                request = frame(("call", name, args, kwargs))
            except ValueError:
                raise TypeError(f"{name}() was given an argument that is not plain data")
            write_all(to_harness, request)
            reply = read_frame(from_harness)
            if reply[0] == "ok":
                return reply[1]
            if reply[0] == "died":
                fail(reply[1], reply[2])
            if reply[0] == "unplain":
                raise TypeError(f"{name}() returned a {reply[1]}, which is not plain data")
            kind, message = reply[1], reply[2]
            if kind == "MemoryError":
                fail("memory_limit", f"MemoryError: {message}")
            if kind in CONTROL_FLOW:
                fail("runtime_error", f"{name}() raised {kind}: {message}")
            cls = getattr(builtins, kind) if kind in BUILTIN_ERRORS else RuntimeError
            raise cls(message if cls is not RuntimeError else f"{kind}: {message}")
        call.__name__ = call.__qualname__ = name
        return call

    namespace = {"__name__": "__test__", "__builtins__": builtins}
    failure = None
    try:
        if job["setup"]:
            exec(compile(job["setup"], "<prompt>", "exec"), namespace)
    except BaseException as err:
        failure = ("runtime_error", f"the prompt's code failed: {type(err).__name__}: "
                   f"{describe(err)}")
    requested = set(job["names"])
    try:
        names = ask(("get", job["names"]))[1] if requested and failure is None else {}
    except CheckerStop as stop:  # the program died while its names were looked up
        names, failure = {}, (stop.outcome, stop.detail)
    for name, entry in (names.items() if type(names) is dict else ()):
        if name not in requested or type(entry) is not tuple or len(entry) != 2 \
                or entry[0] not in NAME_KINDS:
            continue  # only what the test code asked for, and only in the agreed shapes
        kind, value = entry
        if kind == "callable":
            namespace[name] = proxy(name)
        elif kind == "value":
            namespace[name] = value
        elif type(value) is str and value.split(".")[0] in sys.stdlib_module_names:
            try:  # a module the program imported under this name: T imports its own copy
                __import__(value)
                namespace[name] = sys.modules[value]
            except ImportError:
                pass
    for index, source in enumerate(job["segments"]):
        write_all(to_harness, frame(("begin", index)))
        failures.clear()
        try:
            if failure is not None:
                raise CheckerStop(*failure)
            exec(compile(source, "<test>", "exec"), namespace)
            outcome, detail = "pass", ""
        except CheckerStop as stop:
            outcome, detail = stop.outcome, stop.detail
        except AssertionError as err:
            outcome, detail = "wrong_answer", f"AssertionError: {describe(err)}"
        except BaseException as err:
            outcome, detail = "runtime_error", f"{type(err).__name__}: {describe(err)}"
        if failures:  # even if the test code caught it: the program failed this test
            outcome, detail = failures[0]
        write_all(to_harness, frame(("end", index, outcome, detail)))
    write_all(to_harness, frame(("finished",)))
