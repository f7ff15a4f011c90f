"""py-spy on the API and worker process groups during a scenario, and a summary of where the
time goes (the raw "collapsed stacks" output, folded into self and inclusive shares).

The worker is sampled with `--idle`, so waiting on PostgreSQL shows up as the wall-clock time
it is; the API is sampled without it, because gunicorn's idle threads (parked on their queue)
would otherwise drown the request handling in noise.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT_PACKAGES = ("api/", "models/", "workers/", "tasks/", "tessera/")
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]*):(?P<line>\d+)\)$")


def py_spy() -> str | None:
    """The py-spy next to this interpreter (the project's dev extra), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass
class Recording:
    name: str
    output: Path
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def recording(targets: dict[str, int], directory: Path, idle: set[str]) -> Iterator[list[Path]]:
    """Record each named pid (and its subprocesses) until the block ends."""
    executable = py_spy()
    outputs: list[Path] = []
    if executable is None:
        yield outputs
        return
    directory.mkdir(parents=True, exist_ok=True)
    running: list[Recording] = []
    for name, pid in targets.items():
        output = directory / f"{name}.collapsed.txt"
        argv = [
            executable, "record",
            "--pid", str(pid),
            "--subprocesses",
            "--nonblocking",  # never pause the target: the numbers stay what they would be
            "--rate", "100",
            "--format", "raw",
            "--full-filenames",  # tell this project's api/ from anyone else's
            "--output", str(output),
        ]  # fmt: skip
        if name in idle:
            argv.append("--idle")
        log = (directory / f"{name}.py-spy.log").open("wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        running.append(Recording(name, output, process))
    try:
        yield outputs
    finally:
        for item in running:
            # py-spy writes its output when interrupted, as on Ctrl-C
            with contextlib.suppress(ProcessLookupError):
                item.process.send_signal(signal.SIGINT)
        for item in running:
            try:
                item.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                item.process.kill()
                item.process.wait(timeout=5)
            if item.output.exists():
                outputs.append(item.output)


@dataclass(frozen=True)
class Share:
    frame: str
    percent: float


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    root: str
    samples: int  # samples under the root frame (the request or the task)
    top_project: list[Share]  # this project's functions, inclusive, share of `samples`
    top_leaves: list[Share]  # where the samples were taken (any code), share of `samples`


# What one unit of work is, per process group: a request (under gunicorn's threaded or evented
# workers), or an apply task. A profile in which none of them appears (a renamed task, another
# server) is summarised whole.
ROOTS: dict[str, tuple[str, ...]] = {
    "api": (
        "ThreadWorker.handle_request",
        "AsyncWorker.handle_request",
        "GeventWorker.handle_request",
        "SyncWorker.handle_request",
        # the API's own greenlets: the group commit of accepts and the waiters' listener
        "AcceptQueue._run",
        "Listener._listen",
        "Listener._poll",
    ),
    "worker": ("drain", "apply_event"),
}
WHOLE_PROCESS = "(whole process)"


def _function(frame: str) -> tuple[str, bool] | None:
    """`function (short/path.py)` and whether it is this project's code."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return None  # py-spy's process and thread labels
    file = match["file"]
    third_party = "site-packages" in file or "/lib/python3" in file
    for marker in ("site-packages/", "lib/python3.11/", "lib/python3.12/", "lib/python3.13/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    root = f"{Path.cwd()}/"
    project = file.startswith(root) and file[len(root) :].startswith(PROJECT_PACKAGES)
    file = file.removeprefix(root)
    project = project and not third_party
    return f"{match['function']} ({file})", project


def summarise(path: Path, root: str | None = None, top: int = 15) -> ProfileSummary:
    """Fold py-spy's collapsed stacks (`frame;frame;… count` per line) into shares of the
    samples taken inside the root (a function name; default by the file's process group):
    this project's functions by inclusive share, and the leaf functions (where time is
    actually spent: a psycopg wait is a database round trip)."""
    name = path.name.split(".")[0]
    roots = (root,) if root else ROOTS.get(name, ())
    summary = _fold(path, name, roots, top)
    if summary.samples == 0 and not root:
        summary = _fold(path, name, (), top)
    return summary


def _fold(path: Path, name: str, roots: tuple[str, ...], top: int) -> ProfileSummary:
    """The summary of the samples under any of `roots` (every sample when there are none)."""
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [f for f in (_function(x) for x in stack.split(";")) if f is not None]
        if not frames:
            continue
        starts = [
            i for i, (function, _) in enumerate(frames) if function.startswith(roots)
        ] if roots else [0]  # fmt: skip
        if not starts:
            continue
        count = int(count_text)
        total += count
        below = frames[starts[-1] :]
        for function in {function for function, project in below if project}:
            inclusive[function] += count
        leaves[below[-1][0]] += count

    def shares(counter: Counter[str]) -> list[Share]:
        if not total:
            return []
        return [
            Share(frame, round(100.0 * count / total, 1))
            for frame, count in counter.most_common(top)
        ]

    label = " | ".join(roots) if roots else WHOLE_PROCESS
    return ProfileSummary(name, label, total, shares(inclusive), shares(leaves))
