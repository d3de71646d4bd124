"""kserve-gitops: MLflow registry → lock → KServe manifests, reviewed through git."""

__version__ = "0.1.0"
