"""Reads of the annotation app, one topic per module; keyword-only and side-effect free."""
