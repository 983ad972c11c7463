"""The app's private Ray cluster ("local"), run in a fresh process of its own.

    python -m nst_app.ray_head PORT NUM_CPUS OBJECT_STORE_BYTES

Ray starts its processes with a Python `preexec_fn`, which runs in the forked child before
exec; there only the forking thread exists, and Python clears the other threads' states, so
their objects are freed in the child. Forked from the app (the window's threads, a video's
PyAV frames, whose converter waits on FFmpeg's threads when freed), such a child waited
forever and `ray.init` hung. This process has nothing of the app's: it runs `ray start --head
--block` (which ties Ray's processes to it) and exits when its standard input closes, that is
when the app ends, however it ends; Ray's processes go with it, and the machine's current
cluster (the one `ray.init()` joins by itself) is again the one it was before.
"""
from __future__ import annotations

import os
import sys
import threading


def _exit_when_the_app_ends(address_file: str, port: int, before: str | None) -> None:
    sys.stdin.buffer.read()  # returns at end of file: the app closed the pipe or died
    try:  # `ray start` named this cluster the machine's current one: name the one before again
        with open(address_file) as f:
            if f.read().strip().endswith(f":{port}"):  # the host is the machine's address
                if before is None:
                    os.remove(address_file)
                else:
                    with open(address_file, "w") as g:
                        g.write(before)
    except OSError:
        pass
    os._exit(0)


def main(argv: list[str]) -> None:
    port, num_cpus, store = (int(a) for a in argv)
    from ray._private.utils import get_ray_address_file
    from ray.scripts.scripts import main as ray_main

    address_file = get_ray_address_file(None)
    try:
        with open(address_file) as f:
            before = f.read()
    except OSError:
        before = None
    threading.Thread(target=_exit_when_the_app_ends, daemon=True,
                     args=(address_file, port, before)).start()

    sys.argv = ["ray", "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                f"--port={port}", f"--num-cpus={num_cpus}",
                f"--object-store-memory={store}", "--include-dashboard=false",
                "--disable-usage-stats", "--log-style=record"]
    ray_main()


if __name__ == "__main__":
    main(sys.argv[1:])
