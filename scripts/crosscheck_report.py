"""Shared by the scripts/crosscheck_*.py scripts: one `ok`/`FAILED` line per check, the failure count at the end, and
moekit runs that raise with the command's output when it fails."""
import subprocess
import sys

failures = []


def check(ok, message):
    """Prints `ok      message` or `FAILED  message` and records a failure."""
    print(("ok      " if ok else "FAILED  ") + message, flush=True)
    if not ok:
        failures.append(message)


def moekit(binary, *arguments):
    """Runs `binary arguments…`; raises RuntimeError with its stdout and stderr when it exits non-zero."""
    result = subprocess.run([binary, *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"moekit {' '.join(arguments)} exited {result.returncode}: {result.stdout}{result.stderr}")


def finish():
    """Prints `N failure(s)` and exits 1 when any check failed, else 0."""
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)
