"""A small HTTP service that closes the loop between MLflow, GitHub and Argo CD (docs/webhook.md).

- POST /mlflow: a signed MLflow registry webhook (alias set or deleted, version created)
  becomes a `repository_dispatch`, so the promotion workflow runs within seconds
  instead of at its next scheduled run (`relay.py`).
- POST /argocd: an Argo CD notification (deployed, degraded) becomes `deployed.<env>`
  and `health.<env>` tags on the model versions that environment serves (`tagging.py`).
- GET /healthz for the kubelet's probes.

Pure parts (`signature`, `promotion`, `deployment`) hold the decisions; the
adapters (`github`, `registry/mlflow_tags`, the on-disk `journal`), the background
`dispatcher` and `server` hold the side effects.
"""

from pathlib import Path

# The service's defaults, here so that the CLI shows them without importing requests.
DEFAULT_MAX_AGE = 300.0  # seconds a delivery's timestamp may be off
DEFAULT_DEADLINE = 3600.0  # seconds to keep trying one delivery's dispatch; the scheduled run is hourly
DEFAULT_REQUEST_DEADLINE = 10.0  # seconds a client may take to send a request; MLflow sends a delivery at once
DEFAULT_MAX_CONNECTIONS = 100  # open at once; MLflow sends one delivery at a time, Argo CD one notification
DEFAULT_STATE_DIR = Path("/var/lib/kserve-gitops")  # the journal of deliveries: the volume deploy/webhook mounts
