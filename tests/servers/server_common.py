# server_common.py — what every test server of ours shares: exit when the test process that started us goes away.
import os
import stat
import threading


def watch_stdin():
    """Exit when stdin is a pipe and the parent closes it (the test process died or is done)."""
    try:
        if not stat.S_ISFIFO(os.fstat(0).st_mode):
            return
    except OSError:
        return

    def run():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os._exit(0)
    threading.Thread(target=run, daemon=True).start()
