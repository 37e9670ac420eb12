"""The rewardtrain REST API: snapshots.py, urls.py. Shared pieces come from annotation.api.common."""
