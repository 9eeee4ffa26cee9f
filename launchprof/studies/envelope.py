"""Result files in the envelope of /work/shared/RESULTS.md: tool, command, commit, date, gpu, gpus, rows."""
import datetime
import json
import os
import shlex
import subprocess
import sys


def commit_sha():
    """LAUNCHPROF_COMMIT if set (the device copy of the tree has no .git), else git, else "unknown"."""
    env = os.environ.get("LAUNCHPROF_COMMIT")
    if env:
        return env
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def result_name(what, gpus=1):
    return f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}-{what}-{gpus}gpu.json"


def write_envelope(path, tool, rows, gpu, gpus=1, command=None, commit=None, date=None, extra=None):
    """commit and date default to this code's commit and now; a report on an earlier run passes that run's.
    extra: more top-level fields, after the envelope's."""
    doc = {
        "tool": tool,
        "command": command or " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv),
        "commit": commit or commit_sha(),
        "date": date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gpu": gpu,
        "gpus": gpus,
        **(extra or {}),
        "rows": rows,
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return path
