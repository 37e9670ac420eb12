"""Writes of the annotation app, one topic per module; every function is keyword-only and runs in a
transaction. Import the module you need (``from annotation.services import queue``)."""
