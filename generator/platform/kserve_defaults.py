"""What KServe v0.20 fills into an InferenceService that lacks it, for the renderer to write out itself.

Rendered objects are in the form the cluster stores them (docs/kserve-webhook-defaults.md),
so the renderer writes these values instead of leaving them to the admission webhook.
A test simulates the webhook (tests/support/admission.py) and checks that rendering is
a fixed point of it.

Sources (github.com/kserve/kserve at v0.20):
- `constants.InferenceServiceContainerName` in pkg/constants/constants.go: the name the
  webhook gives the one custom container of a predictor (`CustomPredictor.Default`,
  pkg/apis/serving/v1beta1/predictor_custom.go);
- `inferenceService.resource` in config/configmap/inferenceservice.yaml (the Helm chart has
  the same values): the requests and limits `setResourceRequirementDefaults` puts into a
  custom container that lacks them. `predictor.model` never gets them.
"""

from __future__ import annotations

INFERENCE_SERVICE_CONTAINER = "kserve-container"
CONTAINER_RESOURCE_DEFAULTS: dict[str, dict[str, str]] = {
    "requests": {"cpu": "1", "memory": "2Gi"},
    "limits": {"cpu": "1", "memory": "2Gi"},
}
