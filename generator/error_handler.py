"""The one place where exceptions become exit codes and messages.

User errors print their diagnostics and no traceback; anything else is a bug,
printed as one line unless --debug asks for the traceback.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

from generator.errors import EXIT_BUG, EXIT_INTERRUPTED, UserError


def run(job: Callable[[], int], *, debug: bool = False) -> int:
    try:
        return job()
    except UserError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}" if len(exc.diagnostics) == 1 else f"error: {len(exc.diagnostics)} problems\n{exc}",
              file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(f"unexpected error: {type(exc).__name__}: {exc}\n"
              "This is a bug in kserve-gitops; rerun with --debug for the traceback.", file=sys.stderr)
        return EXIT_BUG
