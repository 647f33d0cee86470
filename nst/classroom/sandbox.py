"""The limits a student's functions run under while they are graded (``nst.classroom.runner``'s process).

- **Time**: each call answers within ``--timeout`` seconds or the process is killed (the referee's clock).
- **Memory**: ``RLIMIT_AS``, ``--memory`` GB of address space (8 by default: TensorFlow with VGG19 runs within it).
- **Files written**: ``RLIMIT_FSIZE`` 64 MB; no core dumps.
- **Processes**: ``RLIMIT_NPROC``; ignored for root, so in a PID namespace too where available, which ends
  every process the student started when the runner ends.
- **Network, files, nst**: where Linux lets an unprivileged user make namespaces (``unshare -r``), the
  runner starts in new user, mount, network and PID namespaces: no network interface but loopback,
  every mounted file system read-only, an empty tmpfs over nst's own folder (nst cannot be imported,
  so a function cannot delegate to it), and a writable tmpfs as its home and temporary folder.

Measured on the grading machine of this project (Debian, kernel namespaces allowed, running as root in
a container): all of the above works. Where ``unshare -r`` is refused (some containers, seccomp
profiles), ``available()`` is False and the runner gets the rlimits only: the referee then hashes the
package before and after each notebook, puts back any file that changed and notes it as tampering.
"""

from __future__ import annotations

import functools
import os
import resource
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

FILE_LIMIT = 64 * 2**20  # bytes a student's process may write to one file
PROCESS_LIMIT = 4096  # threads count too: TensorFlow starts about one per core per pool


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether ``unshare`` can give the runner its own user, mount, network and PID namespaces here."""
    if not shutil.which("unshare"):
        return False
    test = subprocess.run(["unshare", "-r", "-m", "-n", "-p", "-f", "--mount-proc", "true"], capture_output=True)
    return test.returncode == 0


def limits(memory_gb: float) -> Callable[[], None]:
    """A ``preexec_fn`` that sets the rlimits: address space, file size, no core dumps, processes."""
    def apply() -> None:
        memory = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))
        os.setsid()  # its own process group: the referee ends it and all it started at once
    return apply


def command(runner: Path, scratch: Path, hidden: list[Path], links: dict[str, Path]) -> list[str]:
    """The command that starts ``runner`` with ``scratch`` writable, the folders ``hidden`` empty, and in
    ``scratch`` the links ``links`` (name -> target: e.g. Keras's weights, read-only).

    In the namespaces (``available()``) the mounts are made by a shell, before Python starts; without
    them, the plain command (rlimits only).
    """
    python = [sys.executable, "-I", str(runner)]
    if not available():
        return python
    script = ["mount --make-rprivate /",
              # every mount read-only: the student's code cannot change what grading reads
              "awk '{print $2}' /proc/self/mounts | while read -r m; do mount -o remount,bind,ro \"$m\" "
              "2>/dev/null; done",
              f"mount -t tmpfs -o size=256m tmpfs {shlex.quote(str(scratch))}",
              *[f"mount -t tmpfs -o size=4k,ro tmpfs {shlex.quote(str(path))}" for path in hidden],
              f"cd {shlex.quote(str(scratch))}",
              *[f"mkdir -p {shlex.quote(str(Path(name).parent))} && ln -s {shlex.quote(str(target))} "
                f"{shlex.quote(name)}" for name, target in links.items()],
              f"exec {shlex.join(python)}"]
    return ["unshare", "-r", "-m", "-n", "-p", "-f", "--mount-proc", "--kill-child", "sh", "-c",
            " && ".join(script[:1]) + "; " + "; ".join(script[1:])]
