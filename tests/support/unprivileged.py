"""Running a command as a user whom file permissions stop, which root is not."""

from __future__ import annotations

import os
import shutil

import pytest


def unprivileged() -> list[str]:
    """The prefix that runs a command without root's power to read and search any directory (util-linux's setpriv
    drops the two capabilities); nothing when the tests do not run as root. Skips the test as root without setpriv."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("as root, this needs setpriv (util-linux) to give up reading any directory")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
