"""KServe's naming rules for what it derives from an InferenceService's name: facts with their sources.

KServe names the predictor's Service `<name>-predictor` (kserve/kserve, pkg/constants/constants.go,
`PredictorServiceName` returns `name + "-" + Predictor`; read on the newest sources the index holds, as the other
rules in docs/kserve-webhook-defaults.md), and in Standard mode the Ingress host
`{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}` (the `ingress.domainTemplate` default of the
`inferenceservice-config` ConfigMap, kserve/kserve config/configmap/inferenceservice.yaml), Name being the Service's.
Kubernetes limits a Service name and a host label to a DNS label of 63 characters (RFC 1123). In Standard mode KServe
also labels the component's Deployment selector, pods and Service `app: isvc.<name>-predictor` (kserve/kserve tag
v0.20.0, pkg/constants/constants.go `GetRawServiceLabel` returns `"isvc." + service`, used by
`createRawDefaultDeployment` in pkg/controller/v1beta1/inferenceservice/reconcilers/deployment/
deployment_reconciler.go), and a label value is at most 63 characters too: a name that fits the Service but not
the label makes the API server refuse the Deployment.
`models.yaml` and the rendered manifests are both checked with these rules (spec/rules.py, validate/kserve_rules.py).
"""

from __future__ import annotations

DNS_LABEL_MAX = 63
LABEL_VALUE_MAX = 63
RAW_SERVICE_LABEL_PREFIX = "isvc."  # GetRawServiceLabel, Standard mode only


def derived_name_problems(
    name: str, namespace: str | None, deployment_mode: str | None, component: str = "predictor"
) -> list[tuple[str, str]]:
    """(message, hint) for each derived DNS label that is too long; shared with the models.yaml checks."""
    service = f"{name}-{component}"
    if len(service) > DNS_LABEL_MAX:
        return [
            (
                f"'{service}' is {len(service)} characters: KServe names the {component} Service "
                f"'<name>-{component}', and a Service name is a DNS label of at most {DNS_LABEL_MAX}",
                f"shorten the name to at most {DNS_LABEL_MAX - len(component) - 1} characters",
            )
        ]
    app_label = f"{RAW_SERVICE_LABEL_PREFIX}{service}"
    if deployment_mode != "Knative" and len(app_label) > LABEL_VALUE_MAX:
        return [
            (
                f"label value '{app_label}' is {len(app_label)} characters (at most {LABEL_VALUE_MAX}): in Standard "
                f"mode KServe labels the {component}'s Deployment and pods 'app: isvc.<name>-{component}', and "
                "Kubernetes refuses the Deployment",
                f"shorten the name to at most {LABEL_VALUE_MAX - len(RAW_SERVICE_LABEL_PREFIX) - len(component) - 1} "
                "characters",
            )
        ]
    host = f"{service}-{namespace}"
    if namespace is not None and deployment_mode != "Knative" and len(host) > DNS_LABEL_MAX:
        return [
            (
                f"host label '{host}' is {len(host)} characters (at most {DNS_LABEL_MAX}): in Standard mode "
                "KServe names the host '{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}' with Name "
                f"'{service}', and fails to reconcile",
                f"keep name and namespace at most {DNS_LABEL_MAX - len(component) - 2} characters together",
            )
        ]
    return []
