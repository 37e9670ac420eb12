"""The rewardtrain pages (htmx): snapshots.py (list, cut, verify, download), forms.py, urls.py."""
