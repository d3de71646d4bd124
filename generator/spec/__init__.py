"""models.yaml: what the platform team declares (the spec), its schema, loading and editing."""

SPEC_FILE = "models.yaml"  # at the repository's root
