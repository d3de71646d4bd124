"""`kserve-gitops diff`: the rendered difference Argo CD would apply, per directory it syncs."""
