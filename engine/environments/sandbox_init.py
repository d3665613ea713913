"""First process inside the sandbox's namespaces: set them up, then run the command as pid 2.

Started by ``engine/environments/sandbox.py`` as ``python -I -S sandbox_init.py SPEC -- ARGV``
(under ``unshare`` or ``bwrap``). Standard library only; it runs with bugfoundry's own
interpreter before the test command (any Python) is executed.

With ``SPEC["mount"]`` (unshare; bwrap does this part itself) it brings the loopback
interface up (tests that bind 127.0.0.1 keep working, nothing reaches the host's), makes every
mount read-only, puts private tmpfs on /tmp and /dev/shm, and binds back the writable
directories (and the read-only ones that lived under /tmp). Then, for every backend, the
memory and process limits, and it stays as pid 1: it reaps orphans and, when the command
exits, exits with its status, which tears the whole pid namespace down (nothing outlives it).

With ``SPEC["own_group"]`` (unshare) the command runs in a process group of its own, and a
SIGTERM to this init kills that group. A killed run is then always reaped by a living parent
(this init, whose exit ``unshare`` waits for), so its CPU reaches ``RUSAGE_CHILDREN`` of the
caller: before, a timeout's or the hang watch's SIGKILL of the whole group took ``unshare``
with it and the run's CPU went to the host's init, unaccounted.
"""

import contextlib
import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import struct
import sys

MS_NOSUID, MS_NODEV, MS_BIND, MS_REC = 0x2, 0x4, 0x1000, 0x4000
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY = 0x1
SYS_MOUNT_SETATTR = 442  # the same number on every architecture (added in Linux 5.12)
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
SETUP_FAILED = 125

_libc = ctypes.CDLL(None, use_errno=True)


def _fail(what):
    err = ctypes.get_errno()
    sys.stderr.write(f"bugfoundry-sandbox: {what}: {os.strerror(err) if err else 'failed'}\n")
    sys.exit(SETUP_FAILED)


def _mount(source, target, fstype, flags, data=None):
    if _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                   ctypes.c_ulong(flags), data.encode() if data else None) != 0:
        _fail(f"mount {target}")


def _setattr(path, flags, attr_set=0, attr_clr=0):
    attr = struct.pack("QQQQ", attr_set, attr_clr, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    if _libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), flags, buf, len(attr)) != 0:
        _fail(f"mount_setattr {path}")


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def _under(path, roots):
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _set_up_mounts(spec):
    """Read-only everything, private tmpfs, then the writable (and hidden) directories back."""
    tmpfs = [t for t in spec["tmpfs"] if os.path.isdir(t)]
    binds = [(p, True) for p in spec["rw"]] + [(p, False) for p in spec["keep"]]
    binds.sort(key=lambda b: b[0].count("/"))  # a directory before what is bound inside it
    fds = {}
    for path, _rw in binds:  # opened before the tmpfs hides them
        if path not in fds and os.path.exists(path):
            fds[path] = os.open(path, os.O_PATH)
    if spec["readonly"]:
        _setattr("/", AT_RECURSIVE, attr_set=MOUNT_ATTR_RDONLY)
    for target in tmpfs:
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
               f"mode=1777,size={spec['tmpfs_size']}")
    for path, rw in binds:
        if path not in fds or (not rw and not _under(path, tmpfs)):
            continue  # read-only and visible already
        if _under(path, tmpfs):
            if os.path.isdir(f"/proc/self/fd/{fds[path]}"):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "a").close()
        _mount(f"/proc/self/fd/{fds[path]}", path, None, MS_BIND | MS_REC)
        if rw and spec["readonly"]:
            _setattr(path, 0, attr_clr=MOUNT_ATTR_RDONLY)
    for fd in fds.values():
        os.close(fd)


def _limit(spec):
    for name, value in spec["rlimits"].items():
        res = getattr(resource, f"RLIMIT_{name}")
        soft, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(res, (value, value))


def _descendants():
    """Every process below this one (orphans came back to it: it is their subreaper)."""
    out, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    kids = [int(x) for x in fh.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def _kill_all(*_args):
    """No pid namespace to take them down: stop, kill and reap every descendant, then go."""
    for _round in range(50):
        pids = _descendants()
        if not pids:
            break
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
    os._exit(137)


def _watch_parent(parent):
    """Outside a pid namespace: when bugfoundry dies, take every process of the run along."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGUSR1, _kill_all)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    if os.getppid() != parent:  # it died before the watch was set
        _kill_all()


def main():
    spec = json.loads(sys.argv[1])
    argv = sys.argv[3:]
    if spec.get("parent"):
        _watch_parent(spec["parent"])
    if spec["mount"]:
        try:
            _loopback_up()
        except OSError as exc:
            sys.stderr.write(f"bugfoundry-sandbox: loopback: {exc}\n")
            sys.exit(SETUP_FAILED)
        _set_up_mounts(spec)
    os.chdir(spec["cwd"])  # the directory as now mounted (a bind, or under the new tmpfs)
    if spec.get("check"):
        sys.exit(0)
    own_group = spec.get("own_group", False)
    pid = os.fork()
    if pid == 0:
        try:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with this init
            if own_group:
                os.setpgid(0, 0)
            _limit(spec)
            os.execvp(argv[0], argv)
        except OSError as exc:
            sys.stderr.write(f"bugfoundry-sandbox: {argv[0]}: {exc.strerror}\n")
        os._exit(127)
    for sig in (signal.SIGINT, signal.SIGHUP):  # pass them on to the command
        signal.signal(sig, lambda n, _f: os.kill(pid, n))
    if own_group:  # a timeout's SIGTERM: kill the command's group, reap it below, then exit
        signal.signal(signal.SIGTERM, lambda _n, _f: os.killpg(pid, signal.SIGKILL))
    else:
        signal.signal(signal.SIGTERM, lambda n, _f: os.kill(pid, n))
    while True:  # pid 1: reap every orphan until the command itself exits
        try:
            got, status = os.wait()
        except ChildProcessError:
            sys.exit(1)
        if got == pid:
            code = os.waitstatus_to_exitcode(status)
            sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
