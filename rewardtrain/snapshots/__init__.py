"""Dataset snapshots: filters.py (what is selected), aggregation.py (votes -> rows), artifacts.py
(JSONL + Parquet, hashes), services.py (cut, create, verify, lookup), exports.py (export formats)."""
