"""The `depeche` command's entry point, kept free of imports: a Ctrl-C or SIGTERM
that comes while the command line loads (a second of imports) is held until the
command can stop on it in one line, as anywhere else, not as a traceback from
whatever was importing."""

from __future__ import annotations

import signal


def main() -> None:
    if hasattr(signal, "pthread_sigmask"):  # not on Windows
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    from flows.cli import main as command  # it lets them through once it handles them

    command()
