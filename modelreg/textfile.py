"""Reading input files (or stdin) and writing output files atomically, with
the one-line errors (exit 2) every command gives for them."""

from __future__ import annotations

import os
import sys
import tempfile

from modelreg.errors import InvalidInput


def read_text(path: str, expected: str) -> str:
    """The UTF-8 text of `path` ('-': standard input). `expected` names what
    the file should be, for the error when it is a directory."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a directory, expected {expected}") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text (byte {exc.start})") from None


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
