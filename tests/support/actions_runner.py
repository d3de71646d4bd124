"""Which workflow commands GitHub's runner would run in a step's output, as actions/runner reads it
(src/Runner.Worker/ActionCommandManager.cs): lines end at CR LF, CR or LF; a line that starts with `::` after
blanks is a command, and so is one holding `##[` anywhere (the old form); after `::stop-commands::TOKEN` only the
line `::TOKEN::` is one, and it resumes them."""

from __future__ import annotations

import re


def commands(output: str) -> list[str]:
    """Each command the runner would act on, as written (`error file=…::text`, `stop-commands::TOKEN`, …)."""
    found: list[str] = []
    stopped_by = ""
    for line in re.split(r"\r\n|\r|\n", output):
        bare = line.lstrip()
        if stopped_by:
            if bare == f"::{stopped_by}::":
                found.append(f"{stopped_by}::")
                stopped_by = ""
            continue
        if bare.startswith("::"):
            command = bare[2:]
            found.append(command)
            if command.startswith("stop-commands::"):
                stopped_by = command.removeprefix("stop-commands::")
        elif "##[" in line:
            found.append(line[line.index("##[") :])
    return found
