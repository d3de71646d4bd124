"""`kserve-gitops smoke-test`: one real request to a deployed model, built from the model's own files.

The request comes from the MLflow signature and input example, so a passing
test shows that what models.lock points at, the serving runtime and the
request format agree. `mlmodel`, `request`, `endpoint` and `job` are pure;
`fetch` (MLflow) and `client` (HTTP) are the edges; `run` joins them.
"""
