"""KServe storage initializer for `models:/<name>/<version>` URIs (models.yaml `method: registry`).

KServe runs it as the `storage-initializer` init container of every InferenceService whose
`storageUri` a ClusterStorageContainer claims, with the arguments `<storageUri> /mnt/models`.
It asks the MLflow registry named by the standard `MLFLOW_*` variables for that exact version
and leaves the model's files directly in the destination, where kserve-mlserver expects
`MLmodel`. It is a separate package from `generator/` because it ships alone in its own image
(images/storage-initializer): it may import only the standard library and mlflow-skinny.
"""
