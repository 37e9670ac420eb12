"""The annotation REST API: one module per resource, one URL module (urls.py), shared pieces in common.py."""
