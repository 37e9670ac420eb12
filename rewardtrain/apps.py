"""The rewardtrain app: everything after the judgement (see ARCHITECTURE.md)."""
from django.apps import AppConfig


class RewardtrainConfig(AppConfig):
    name = "rewardtrain"
    verbose_name = "Reward training"
