"""Real components the tests run against (see STYLE.md §5.14)."""
