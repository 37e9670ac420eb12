"""Django admin for the rewardtrain models (read-mostly: snapshots are immutable)."""
from django.contrib import admin

from .models import (Alert, Canary, DatasetSnapshot, ModelEvent, ModelVersion, ScoreDaily, ScoringJob, SnapshotJob,
                     TrainingPolicy, TrainingRun)


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(admin.ModelAdmin):
    list_display = ["project", "version", "aggregation", "train_rows", "val_rows", "sha256", "created_at"]
    list_filter = ["project", "aggregation"]
    search_fields = ["sha256"]

    # Snapshots are immutable and cut through create_snapshot, the page or the API, never here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "snapshot", "trigger", "status", "progress", "worker", "heartbeat_at", "created_at",
                    "finished_at"]
    list_filter = ["status", "trigger", "project"]
    search_fields = ["worker", "error"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "version", "status", "run", "artifact_dir", "created_at"]
    list_filter = ["project", "status"]


@admin.register(ModelEvent)
class ModelEventAdmin(admin.ModelAdmin):
    list_display = ["at", "project", "action", "model_version", "previous_active", "user"]
    list_filter = ["project", "action"]


@admin.register(SnapshotJob)
class SnapshotJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "progress", "snapshot", "created_at", "finished_at"]
    list_filter = ["status", "project"]


@admin.register(TrainingPolicy)
class TrainingPolicyAdmin(admin.ModelAdmin):
    list_display = ["project", "retrain_every", "auto_promote", "promote_confidence", "last_triggered_at", "last_note"]

    # Set on the runs page, the API or the training_policy command, which validate the config.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScoringJob)
class ScoringJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "model_version", "status", "progress", "created_by", "created_at"]
    list_filter = ["kind", "status", "project"]
    readonly_fields = ["params", "inputs", "result", "summary"]


@admin.register(ScoreDaily)
class ScoreDailyAdmin(admin.ModelAdmin):
    list_display = ["model_version", "day", "count", "min_reward", "max_reward", "updated_at"]
    list_filter = ["day"]

    def has_change_permission(self, request, obj=None):  # written by the scoring workers only
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "rule", "severity", "model_version", "status", "created_at"]
    list_filter = ["rule", "status", "project"]
    readonly_fields = ["numbers"]

    def has_add_permission(self, request):  # raised by the rules (rewardtrain.monitoring.alerts) only
        return False


@admin.register(Canary)
class CanaryAdmin(admin.ModelAdmin):
    list_display = ["project", "line", "prompt"]
    list_filter = ["project"]

    def has_add_permission(self, request):  # imported as a whole set (page, API, import_canaries)
        return False
