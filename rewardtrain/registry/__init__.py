"""The model registry: validated model versions, promote / rollback / archive, downloads."""
