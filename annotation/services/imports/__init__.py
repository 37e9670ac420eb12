"""Imports of JSONL files: common.py (the streaming, all-or-nothing run), tasks.py, pairs.py (TRL and HH)."""
