"""Operating-system mechanics of the sandbox harness: mounts, privileges, limits, killing.

Imported by `_child.py` inside the sandbox, so it uses only built-in and C modules
(libc is reached through `_ctypes`: the `ctypes` package costs ~3 ms to import).
"""

import os
import resource
import time

SIGKILL = 9
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = (
    1024, 2048, 4096, 16384, 1 << 18, 1 << 21)
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECUREBITS = 1, 4, 28
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
ROOT_LEVELS = ("namespaces", "uid")      # H is real root: U and T get uids of their own
PIDNS_LEVELS = ("namespaces", "userns")  # H is pid 1 of a fresh pid namespace
DEVICES = ("null", "zero", "random", "urandom")


PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
# Memory a program can hold outside its address space, so that RLIMIT_AS never counts
# it: memfd_create and memfd_secret (anonymous files), shmget (System V segments live on
# after shmdt). No memory cgroup bounds the run, so these calls are refused (EPERM) by
# a seccomp filter, per architecture: (audit arch, syscall numbers, x32 ABI bit).
SECCOMP_REFUSED = {
    "x86_64": (0xC000003E, (319, 447, 29), 0x40000000),
    "aarch64": (0xC00000B7, (279, 447, 194), None),
}
EPERM = 1


class Libc:
    """mount, prctl and capset, raising OSError on failure."""

    def __init__(self):
        import _ctypes

        class Int(_ctypes._SimpleCData):
            _type_ = "i"

        class Char(_ctypes._SimpleCData):
            _type_ = "c"

        self._ctypes, self._char = _ctypes, Char

        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = Int

        handle = _ctypes.dlopen(None, 0)
        self._mount, self._prctl, self._capset = (
            Function(_ctypes.dlsym(handle, name)) for name in ("mount", "prctl", "capset"))
        self._errno = _ctypes.get_errno

    def _check(self, result: int, what: str) -> int:
        if result == -1:
            err = self._errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")
        return result

    def mount(self, source, target, fstype, flags, data=None):
        return self._check(self._mount(source, target, fstype, flags, data), "mount")

    def prctl(self, option, value):
        return self._check(self._prctl(option, value, 0, 0, 0), f"prctl({option})")

    def refuse_uncounted_memory(self, machine: str) -> None:
        """Install the seccomp filter of SECCOMP_REFUSED (needs no_new_privs first). On an
        architecture without an entry it raises: the memory limit would not hold."""
        if machine not in SECCOMP_REFUSED:
            raise OSError(f"no seccomp filter for {machine}: memfd memory would be uncounted")
        arch, refused, x32_bit = SECCOMP_REFUSED[machine]
        program = seccomp_filter(arch, refused, x32_bit)
        buffer = type("Filter", (self._ctypes.Array,), {"_type_": self._char,
                                                        "_length_": len(program)})
        held = buffer.from_buffer_copy(program)  # alive until prctl has copied it
        fprog = ((len(program) // 8).to_bytes(2, "little") + bytes(6)
                 + self._ctypes.addressof(held).to_bytes(8, "little"))
        self._check(self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog, 0, 0),
                    "prctl(PR_SET_SECCOMP)")

    def drop_capabilities(self):
        header = (0x20080522).to_bytes(4, "little") + bytes(4)  # _LINUX_CAPABILITY_VERSION_3
        return self._check(self._capset(header, bytes(24)), "capset")


def setup_root(libc: Libc, job: dict) -> None:
    """Inside the new mount namespace: a tmpfs root holding read-only binds of the system
    directories Python needs, the devices null/zero/random/urandom, a writable /sandbox
    (the working directory) and /tmp; then chroot into it. Nothing else of the host's
    filesystem is visible, and none of it is writable."""
    libc.mount(None, b"/", None, MS_REC | MS_PRIVATE)  # nothing propagates to the host
    root = job["mount_point"]
    # Hold every bind source (and the devices) open *before* the tmpfs covers the mount
    # point: a virtual environment or a Python under /tmp would be hidden by it. The
    # binds then name the held directories through /proc/self/fd, not by path.
    sources = [os.open(source, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
               for source, _ in job["binds"]]
    devices = [os.open(f"/dev/{name}", os.O_PATH | os.O_CLOEXEC) for name in DEVICES]
    options = "size=%dm,nr_inodes=4096,mode=755" % job["limits"]["disk_mb"]
    libc.mount(b"tmpfs", root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode())
    for directory in ("/sandbox", "/tmp"):
        os.mkdir(root + directory)
        os.chmod(root + directory, 0o1777)
    for fd, (source, target) in zip(sources, job["binds"]):
        path = (root + target).encode()
        os.makedirs(path, 0o755, exist_ok=True)
        libc.mount(f"/proc/self/fd/{fd}".encode(), path, None, MS_BIND | MS_REC)
        libc.mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
                   | kept_flags(fd))
        os.close(fd)
    for link, destination in job["symlinks"]:
        os.symlink(destination, root + link)
    os.mkdir(root + "/dev", 0o755)
    for fd, device in zip(devices, DEVICES):
        path = f"{root}/dev/{device}"
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o666))
        libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND)
        os.close(fd)
    os.chroot(root)
    os.chdir("/sandbox")


def kept_flags(fd: int) -> int:
    """The source mount's noexec/atime flags (of the directory held open as `fd`), which a
    read-only remount must keep (a user namespace refuses to change them)."""
    flags, kept = os.fstatvfs(fd).f_flag, 0
    for st_flag, ms_flag in ((os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME),
                             (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)):
        if flags & st_flag:
            kept |= ms_flag
    return kept


def seccomp_filter(arch: int, refused, x32_bit) -> bytes:
    """A classic BPF program: kill on a foreign architecture (a program could switch ABI
    through ctypes), EPERM for `refused` syscalls (and every x32 one), allow the rest."""
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    kill, allow, errno = 0x80000000, 0x7FFF0000, 0x00050000 | EPERM
    checks = ([(jge, x32_bit)] if x32_bit else []) + [(jeq, nr) for nr in refused]
    code = [(ld_abs, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, kill), (ld_abs, 0, 0, 0)]
    for index, (op, value) in enumerate(checks):
        code.append((op, len(checks) - index, 0, value))  # true: jump to the EPERM return
    code += [(ret, 0, 0, allow), (ret, 0, 0, errno)]
    return b"".join(op.to_bytes(2, "little") + bytes((jt, jf)) + k.to_bytes(4, "little")
                    for op, jt, jf, k in code)


def install_fds(fds: dict) -> None:
    """Make descriptor `target` a copy of `source` for each item; close all others.
    (Copies go above every fd involved first, so no source is overwritten before use.)"""
    base = max(*fds, *fds.values()) + 1
    for offset, source in enumerate(fds.values()):
        os.dup2(source, base + offset)
    for offset, target in enumerate(fds):
        os.dup2(base + offset, target)
    os.closerange(len(fds), 1 << 16)


def set_uid(uid: int) -> None:
    """Become `uid` for good (real, effective, saved; no groups): capabilities are gone."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def enter_program(job: dict, libc, cpu_seconds: int) -> None:
    """In U, before any program code: limits, then an unprivileged identity."""
    limits, level = job["limits"], job["level"]
    os.setsid()  # a process group of its own: the fallback levels kill the group
    setlimit = resource.setrlimit
    setlimit(resource.RLIMIT_CORE, (0, 0))
    setlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    setlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    setlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"],) * 2)
    setlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    setlimit(resource.RLIMIT_NPROC, (job["nproc"],) * 2)
    if level in ROOT_LEVELS:
        set_uid(job["uid"])  # a uid of its own: RLIMIT_NPROC counts only its processes
    if libc is not None:
        if level == "userns":  # uid 0 of the namespace: keep no capability, gain none on exec
            libc.prctl(PR_SET_SECUREBITS, 0x0F)  # NOROOT, NO_SETUID_FIXUP, both locked
            libc.drop_capabilities()
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid binaries (su, sudo) stay powerless
        libc.refuse_uncounted_memory(os.uname().machine)
        libc.prctl(PR_SET_PDEATHSIG, SIGKILL)  # after the uid change, which resets it
    if os.getppid() != job["harness_pid"]:
        os._exit(70)  # H died before the death signal was armed


def limit_trusted(job: dict) -> None:
    """Memory and CPU limits of a trusted process (H, T): a reply that slipped past the
    budgets, or test code fed hostile values, ends in an error, not in a stalled runner or
    an exhausted machine. The program process sets its own, lower, limits."""
    memory, cpu = job["trusted_memory_bytes"], job["trusted_cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def enter_checker(job: dict, libc) -> None:
    """In T: limits; its own uid where H is root; never dumpable (U may share its uid)."""
    limit_trusted(job)
    if job["level"] in ROOT_LEVELS:
        set_uid(job["checker_uid"])
    if libc is not None:
        libc.prctl(PR_SET_DUMPABLE, 0)
        libc.prctl(PR_SET_PDEATHSIG, SIGKILL)


def kill_uid(uid: int) -> None:
    """Kill every process of `uid`: a forked process of that uid signals -1 (all it may)."""
    killer = os.fork()
    if killer == 0:
        try:
            os.setresuid(uid, uid, uid)
            os.kill(-1, SIGKILL)
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(killer, 0)


def kill_children_of(pid: int) -> None:
    """rlimits level: SIGKILL the processes whose parent is `pid` (orphans reparented to a
    subreaper), until none is left."""
    for _ in range(100):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                found = True
                try:
                    os.kill(int(entry), SIGKILL)
                except OSError:
                    pass
        if not found:
            return
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.005)
