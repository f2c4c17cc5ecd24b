"""The OCR helper of a process forked after its parent loaded the OCR models.

docsnap starts it as ``python -m docsnap._ocr_worker`` and sends it pages
over stdin and stdout. It exits when stdin closes, and is not meant to be run
by hand.
"""

from __future__ import annotations

import signal
import sys

from docsnap import _docsnap


def main() -> None:
    """Serve OCR requests until stdin closes."""
    # Ctrl-C in a terminal reaches the whole process group. The process that
    # started this helper handles it, and closes stdin to stop the helper.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The native loop writes frames to file descriptor 1, so anything Python
    # prints from now on goes to stderr instead.
    sys.stdout.flush()
    sys.stdout = sys.stderr
    _docsnap._serve_ocr()


if __name__ == "__main__":
    main()
