"""Quality gates on promotion: what a model version's metrics must satisfy before it is locked (docs/gates.md)."""
