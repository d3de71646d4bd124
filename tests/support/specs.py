"""models.yaml fragments several tests add to a repository `kserve-gitops init` wrote."""

# One model served with `method: image`: `init` then adds the images workflow.
IMAGE_MODEL = """\
models:
  wine:
    registeredModel: wine
    method: image
    imageRepository: registry.example.com/models/wine
    environments:
      dev: {version: 1}
"""
