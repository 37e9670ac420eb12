"""PII: detectors (Django-free) and the project policy services."""
