"""Reading input files (or stdin) and writing output files, with the
one-line errors (exit 2) every command gives for them.

Input: only regular files (or `-`, standard input, where a command takes
it), at most MAX_INPUT_BYTES: a FIFO, a device or a symlink to /dev/zero is
refused before anything is read, and no input can exhaust memory.
Output: a regular file (or a new path) is replaced atomically (temporary
file, fsync, rename), so readers see the old or the new file, never half of
one; a FIFO, a character device or `-` is streamed to instead, never
replaced by a regular file.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile

from modelreg.errors import InvalidInput

MAX_INPUT_BYTES = 256 * 1024 * 1024  # manifests, registry files, observation windows, payloads


def _limit_text(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def read_bytes(path: str, expected: str, *, limit: int = MAX_INPUT_BYTES, stdin: bool = True) -> bytes:
    """The bytes of `path` ('-': standard input, when `stdin`). `expected`
    names what the file should be, for the errors."""
    if path == "-" and stdin:
        stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
        data = stream.read(limit + 1) if stream is not None else sys.stdin.read(limit + 1).encode()
        if len(data) > limit:
            raise InvalidInput(f"standard input: more than {_limit_text(limit)}; expected {expected}")
        return data
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a directory, expected {expected}") from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InvalidInput(f"{path}: is a directory, expected {expected}")
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"{path}: not a regular file (a device, FIFO or socket), expected {expected}")
        if info.st_size > limit:
            raise InvalidInput(f"{path}: {info.st_size} bytes, more than the {_limit_text(limit)} limit")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:
        raise InvalidInput(f"{path}: more than the {_limit_text(limit)} limit")
    return data


def read_text(path: str, expected: str, *, limit: int = MAX_INPUT_BYTES, stdin: bool = True) -> str:
    data = read_bytes(path, expected, limit=limit, stdin=stdin)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        name = "standard input" if path == "-" else path
        raise InvalidInput(f"{name}: not UTF-8 text (byte {exc.start})") from None


def write_output(path: str | os.PathLike, text: str, *, mode: int | None = None) -> None:
    """Write `text` where the user asked: '-' is standard output; a FIFO or a
    character device is streamed to; anything else is replaced atomically
    (see `write_atomic`). Symlinks are followed to what they name, so
    `-o /dev/stdout` streams rather than replacing the device."""
    target = os.fspath(path)
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise InvalidInput(f"cannot write {target}: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            raise InvalidInput(f"cannot write {target}: is a directory")
        if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
            raise InvalidInput(f"cannot write {target}: not a regular file, FIFO or character device")
        try:
            with open(target, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        except OSError as exc:
            raise InvalidInput(f"cannot write {target}: {exc.strerror or exc}") from None
        return
    write_atomic(os.path.realpath(target) if info is not None else target, text, mode=mode)


def write_atomic(path: str | os.PathLike, text: str, *, mode: int | None = None) -> None:
    """Replace `path` with `text` so readers see the old or the new file, never
    half of one: a temporary file in the same directory, fsync, rename, fsync
    of the directory. `mode`: the file's permissions (default: an existing
    file's, else 0666 less the umask)."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise InvalidInput(f"cannot write {target}: directory {directory} does not exist")
    if mode is None:
        try:
            mode = os.stat(target).st_mode & 0o777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    try:
        fd, temp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(target) + ".", suffix=".tmp")
    except OSError as exc:
        raise InvalidInput(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        os.replace(temp, target)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InvalidInput(f"cannot write {target}: {exc.strerror or exc}") from None
        raise
    try:  # make the rename durable; best effort (not every filesystem allows it)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
