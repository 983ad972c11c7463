"""The app's private Ray cluster ("local"), run in a fresh process of its own.

    python -m nst_app.ray_head PORT NUM_CPUS OBJECT_STORE_BYTES TEMP_DIR

Ray starts its processes with a Python `preexec_fn`, which runs in the forked child before
exec; there only the forking thread exists, and Python clears the other threads' states, so
their objects are freed in the child. Forked from the app (the window's threads, a video's
PyAV frames, whose converter waits on FFmpeg's threads when freed), such a child waited
forever and `ray.init` hung. This process has nothing of the app's: it runs `ray start --head
--block`, and when its standard input closes (the app ended, however it ended) it has Ray end
every process of the cluster. Its files are in a folder of its own, so the cluster is never
the machine's "current" one, which other programs' `ray.init()` would join.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import threading
import time

#: Seconds Ray's own shutdown of the cluster may take before this process simply exits.
GRACE_SECONDS = 20


def _exit_when_the_app_ends() -> None:
    sys.stdin.buffer.read()  # returns at end of file: the app closed the pipe or died
    os.kill(os.getpid(), signal.SIGTERM)  # Ray's handler ends every process of the cluster
    time.sleep(GRACE_SECONDS)
    os._exit(1)  # the rest go with this process (Ray ties them to it)


def main(argv: list[str]) -> None:
    port, num_cpus, store = (int(a) for a in argv[:3])
    atexit.register(shutil.rmtree, argv[3], True)  # after Ray's own exit handler has run
    threading.Thread(target=_exit_when_the_app_ends, daemon=True).start()
    # Ray's SIGTERM handler first waits for a node drain meant for long-lived services
    os.environ["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = "0"
    from ray.scripts.scripts import main as ray_main

    sys.argv = ["ray", "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                f"--port={port}", f"--num-cpus={num_cpus}", f"--temp-dir={argv[3]}",
                f"--object-store-memory={store}", "--include-dashboard=false",
                "--disable-usage-stats", "--log-style=record"]
    ray_main()


if __name__ == "__main__":
    main(sys.argv[1:])
