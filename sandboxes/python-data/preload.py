"""Runs the reader's program with numpy, pandas and matplotlib already
loaded. snipbox starts it with the container (`prestart`), so the imports
happen before the program arrives; it waits on the go pipe until the files
are in place, then runs the program as `__main__`, as `python3 main.py`
would. Figures shown with `plt.show()` are saved as figure-N.png (there is
no display), where the run's outputs pick them up.

It also draws one throwaway figure to PNG in memory, so the fonts, the Agg
renderer and the PNG writer are loaded before the program comes; and when
the program is done it ends the process at once (after atexit handlers and
flushing output), skipping the interpreter's teardown of the loaded
libraries: the container serves one run and is removed.
"""

import atexit
import io
import os
import runpy
import sys
import threading
import traceback

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402,F401
import pandas  # noqa: E402,F401

_saved = 0


def _show(*args, **kwargs):
    """plt.show(): saves every open figure, then closes them."""
    global _saved
    for number in plt.get_fignums():
        _saved += 1
        plt.figure(number).savefig(f"figure-{_saved}.png", bbox_inches="tight")
    plt.close("all")


plt.show = _show


def _warm_up():
    """Draws and encodes one figure, then forgets it."""
    figure = plt.figure()
    figure.gca().plot([0, 1], [0, 1])
    figure.savefig(io.BytesIO(), format="png")
    plt.close(figure)


def _wait_for_go():
    """Blocks until the agent says the files are in place (when prestarted)."""
    fd = os.environ.pop("SNIPBOX_GO_FD", None)
    if fd is not None:
        os.read(int(fd), 1)
        os.close(int(fd))


def _run(script):
    """Runs `script` as __main__; a traceback shows the program's frames
    only. Returns the exit status."""
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    except BaseException as e:
        ours = {script, os.path.abspath(script)}
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename not in ours:
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb or e.__traceback__)
        return 1
    return 0


def _exit(status):
    """Ends the process as Python would, minus the teardown; with threads
    still running, Python's own exit waits for them."""
    if threading.active_count() > 1:
        sys.exit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status & 0xFF)


if __name__ == "__main__":
    _warm_up()
    _wait_for_go()
    _exit(_run(sys.argv[1]))
