"""Turn a changed models.lock into pull requests: one fixed branch per group, updated in place.

`plan` is pure (what each branch should hold and what its pull request says), `body`
writes the Markdown, `git` and `github` are the two doors to the outside, and
`publish` walks the proposals through them. See docs/propose.md.
"""

from __future__ import annotations

DEFAULT_AUTHOR = "kserve-gitops[bot] <kserve-gitops[bot]@users.noreply.github.com>"
