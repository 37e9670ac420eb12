"""Monitoring of reward models: the canary set every new version scores, and the alert rules (traffic
statistics from rewardtrain.scoring.stats, canary shift) evaluated on a beat schedule."""
