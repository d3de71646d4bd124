"""Facts about the platform the manifests target (KServe releases and what their runtimes run)."""
