"""Dataset snapshots, training runs and the reward-model registry."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import JobStatus, Project


class SnapshotImmutable(Exception):
    """Raised on any attempt to change or delete a snapshot once it is written."""


class SnapshotQuerySet(models.QuerySet):
    # Bulk paths skip save()/delete(), so they are closed here too: a snapshot is evidence.
    def update(self, **kwargs):
        raise SnapshotImmutable("Dataset snapshots are immutable; cut a new version instead.")

    def delete(self):
        raise SnapshotImmutable("Dataset snapshots are immutable and cannot be deleted.")


class DatasetSnapshot(models.Model):
    """An immutable, versioned freeze of a project's preference pairs, split by prompt."""

    class Aggregation(models.TextChoices):
        EVERY = "every", "Every judgement as a row"
        MAJORITY = "majority", "Majority per pair, agreement as weight"
        WEIGHTED = "weighted", "Annotator-weighted"
        ADJUDICATED = "adjudicated", "Adjudicated verdict, else majority"
        DAWID_SKENE = "dawid_skene", "Dawid–Skene weighted"

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="snapshots")
    version = models.PositiveIntegerField()
    filters = models.JSONField(default=dict, blank=True)
    aggregation = models.CharField(max_length=16, choices=Aggregation.choices, default=Aggregation.EVERY)
    split_seed = models.IntegerField(default=0)
    val_fraction = models.FloatField(default=0.1)
    train_rows = models.PositiveIntegerField(default=0)
    val_rows = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    artifact = models.FileField(upload_to="snapshots/", max_length=500)
    artifact_parquet = models.FileField(upload_to="snapshots/", max_length=500, blank=True)
    parquet_sha256 = models.CharField(max_length=64, blank=True)
    stats = models.JSONField(default=dict, blank=True, help_text="Row counts by split, source and criterion.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="snapshot_unique_version"),
            models.CheckConstraint(condition=Q(val_fraction__gte=0) & Q(val_fraction__lt=1),
                                   name="snapshot_val_fraction_range"),
        ]

    def __str__(self) -> str:
        return f"{self.project} snapshot v{self.version}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise SnapshotImmutable("Dataset snapshots are immutable; cut a new version instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise SnapshotImmutable("Dataset snapshots are immutable and cannot be deleted.")


class SnapshotJob(models.Model):
    """The asynchronous cut of a snapshot; the snapshot row itself appears only when complete."""

    Status = JobStatus

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="snapshot_jobs")
    params = models.JSONField(default=dict, blank=True, help_text="Filters, aggregation, seed and val fraction.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=32, blank=True, help_text="counting, writing or done")
    error = models.TextField(blank=True)
    snapshot = models.OneToOneField(DatasetSnapshot, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="job")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1),
                                   name="snapshotjob_progress_0_1"),
        ]

    def __str__(self) -> str:
        return f"Snapshot job {self.pk} ({self.status})"


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULE = "schedule", "Schedule"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="training_runs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    trigger_reason = models.CharField(max_length=255, blank=True,
                                      help_text="What started an automatic run, e.g. the judgement count.")
    auto_decision = models.JSONField(null=True, blank=True,
                                     help_text="The auto-promote decision on the run's model and its numbers.")
    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.PROTECT, related_name="runs")
    config = models.JSONField(default=dict, blank=True,
                              help_text="TrainConfig fields without the paths, which the worker sets.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="Host and pid of the worker holding the run.")
    claim_token = models.CharField(max_length=32, blank=True,
                                   help_text="Identifies the delivery that holds the run; writes of any other stop.")
    attempts = models.PositiveIntegerField(default=0, help_text="How many times a worker has started the run.")
    checkpoint_path = models.CharField(max_length=500, blank=True,
                                       help_text="Storage folder of the last complete checkpoint.")
    checkpoint_step = models.PositiveIntegerField(null=True, blank=True)
    resumed_from_step = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="run_progress_0_1"),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat_idx")]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.status})"


class TrainingMetric(models.Model):
    """One training step or evaluation of a run; a resumed run overwrites the steps it repeats."""

    class Kind(models.TextChoices):
        TRAIN = "train", "Training step"
        EVAL = "eval", "Evaluation"

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    step = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    loss = models.FloatField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    lr = models.FloatField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "kind", "step"]
        constraints = [models.UniqueConstraint(fields=["run", "kind", "step"], name="metric_unique_step")]

    def __str__(self) -> str:
        return f"Run {self.run_id} {self.kind} step {self.step}"


class ModelVersion(models.Model):
    """The registry: a validated reward model of a project (rewardtrain.ml's RewardModel loads it)."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="model_versions")
    version = models.PositiveIntegerField()
    run = models.OneToOneField(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="model_version")
    artifact_dir = models.CharField(max_length=500, help_text="Storage path of the Hugging Face model folder.")
    validation_report = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="modelversion_unique_version"),
            models.UniqueConstraint(fields=["project"], condition=Q(status="active"),
                                    name="modelversion_one_active_per_project"),
        ]

    def __str__(self) -> str:
        return f"{self.project} RM v{self.version} ({self.status})"


class ModelEvent(models.Model):
    """The registry's history: who registered, promoted, rolled back or archived which version, when."""

    class Action(models.TextChoices):
        REGISTER = "register", "Registered"
        PROMOTE = "promote", "Promoted"
        ROLLBACK = "rollback", "Rolled back to"
        ARCHIVE = "archive", "Archived"
        KEEP = "keep", "Not promoted (active model kept)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_events")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    previous_active = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+", help_text="The active version this action replaced.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    detail = models.JSONField(default=dict, blank=True, help_text="An automatic decision's numbers (no user).")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} v{self.model_version.version}"


class TrainingPolicy(models.Model):
    """A project's retrain loop: retrain after N new human judgements, optionally promote automatically.

    ``judgements_seen`` is the highest judgement id counted at the last automatic trigger; the
    beat counts judgements above it.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="training_policy")
    retrain_every = models.PositiveIntegerField(default=0, help_text="New human judgements that start a retrain; "
                                                                     "0 turns automatic retraining off.")
    auto_promote = models.BooleanField(default=False, help_text="Promote a new model only when it beats the active "
                                                                "one on the same validation rows.")
    auto_promote_manual = models.BooleanField(default=False, help_text="Also decide on runs started by hand.")
    promote_confidence = models.FloatField(default=0.95)
    config = models.JSONField(default=dict, blank=True, help_text="TrainConfig overrides for automatic runs.")
    snapshot_val_fraction = models.FloatField(default=0.1)
    # Active learning (rewardtrain.active): open pool tasks after a promotion and/or on a schedule.
    acquire_after_promote = models.BooleanField(default=False, help_text="Start an acquisition round whenever a "
                                                                         "model is promoted (by hand or automatically).")
    acquire_every_hours = models.PositiveIntegerField(default=0, help_text="Start an acquisition round on the beat "
                                                                           "every N hours while the pool has tasks; 0 = off.")
    acquire_strategy = models.CharField(max_length=16, default="dopt", help_text="random, uncertainty, disagreement or dopt.")
    acquire_size = models.PositiveIntegerField(default=50, help_text="Pool tasks each automatic round opens.")
    judgements_seen = models.PositiveBigIntegerField(default=0)
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    last_note = models.CharField(max_length=500, blank=True, help_text="What the last automatic step did.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "training policies"
        constraints = [
            models.CheckConstraint(condition=Q(promote_confidence__gt=0.5) & Q(promote_confidence__lt=1),
                                   name="policy_confidence_range"),
            models.CheckConstraint(condition=Q(snapshot_val_fraction__gt=0) & Q(snapshot_val_fraction__lt=1),
                                   name="policy_val_fraction_range"),
        ]

    def __str__(self) -> str:
        return f"Training policy of {self.project}"


class AcquisitionRound(models.Model):
    """One active-learning round: the active model scores the pool, a strategy picks tasks, and the
    picks are opened to annotators with a priority (rewardtrain.active)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SCORING = "scoring", "Scoring the pool"
        SELECTING = "selecting", "Selecting"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        PROMOTE = "promote", "After a promotion"
        SCHEDULE = "schedule", "Schedule"

    ACTIVE = (Status.QUEUED, Status.SCORING, Status.SELECTING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="acquisition_rounds")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="acquisition_rounds")
    strategy = models.CharField(max_length=16)
    size = models.PositiveIntegerField()
    params = models.JSONField(default=dict, blank=True, help_text="epsilon, diversity, seed, chunk size.")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    pool_size = models.PositiveIntegerField(default=0, help_text="Pool tasks scored.")
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    picked = models.PositiveIntegerField(default=0, help_text="Tasks opened (fewer than size when the pool was smaller).")
    pool_scores = models.JSONField(default=dict, blank=True,
                                   help_text="Histogram of the strategy score over the whole pool (for the chart).")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="acqround_progress_0_1"),
            models.CheckConstraint(condition=Q(size__gte=1), name="acqround_size_positive"),
            # Two rounds at once would score the same pool and open overlapping picks.
            models.UniqueConstraint(fields=["project"], condition=Q(status__in=["queued", "scoring", "selecting"]),
                                    name="acqround_one_active_per_project"),
        ]

    def __str__(self) -> str:
        return f"Acquisition round {self.pk} ({self.status})"


class AcquisitionChunk(models.Model):
    """A slice of the pool scored by one Celery task; its rewards and features go to storage."""

    round = models.ForeignKey(AcquisitionRound, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    task_ids = models.JSONField(help_text="The pool tasks of this chunk, in order.")
    result_path = models.CharField(max_length=500, blank=True, help_text="Storage path of the .npz once scored.")
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["round", "index"]
        constraints = [models.UniqueConstraint(fields=["round", "index"], name="acqchunk_unique_index")]

    def __str__(self) -> str:
        return f"Round {self.round_id} chunk {self.index}"


class AcquisitionPick(models.Model):
    """A pool task a round opened: its rank in the pick order, its strategy score and rewards."""

    round = models.ForeignKey(AcquisitionRound, on_delete=models.CASCADE, related_name="picks")
    task = models.ForeignKey("annotation.Task", on_delete=models.CASCADE, related_name="acquisition_picks")
    rank = models.PositiveIntegerField(help_text="0 = picked first (served first).")
    score = models.FloatField()
    explore = models.BooleanField(default=False, help_text="One of the epsilon share of uniform random picks.")
    rewards = models.JSONField(default=list, help_text="The model's reward of each response, in slot order.")

    class Meta:
        ordering = ["round", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["round", "rank"], name="acqpick_unique_rank"),
            models.UniqueConstraint(fields=["round", "task"], name="acqpick_unique_task"),
        ]

    def __str__(self) -> str:
        return f"Round {self.round_id} pick {self.rank}: task {self.task_id}"


class ScoringJob(models.Model):
    """A batch scoring job (rewardtrain.scoring.jobs): score a JSONL file, curate it by reward, or compare
    two policies' files (A/B). Its inputs and result live in storage; the row tells how far it has come."""

    class Kind(models.TextChoices):
        SCORE = "score", "Score"
        CURATE = "curate", "Curate"
        AB = "ab", "Policy A/B"

    Status = JobStatus

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="scoring_jobs")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="scoring_jobs",
                                      help_text="The model that scores, fixed when the job is created.")
    params = models.JSONField(default=dict, blank=True,
                              help_text="Curation rule (mode, k, threshold, percent), input names and row counts.")
    inputs = models.JSONField(default=list, blank=True, help_text="Storage names of the uploaded file(s).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    result = models.CharField(max_length=500, blank=True, help_text="Storage name of the result file.")
    summary = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="scoringjob_progress_0_1"),
        ]

    def __str__(self) -> str:
        return f"Scoring job {self.pk} ({self.kind}, {self.status})"


class ScoreDaily(models.Model):
    """What one model version's best-of-N scores looked like on one day (UTC), kept as running sums so a
    new batch of scores is one small update (rewardtrain.scoring.stats): count, mean and std of the raw
    reward, min/max, the reward–length correlation (length in characters) and a fixed-bin histogram of
    the normalized reward (z-scores against the training data) from which quantiles are read."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="score_days")
    day = models.DateField()
    count = models.PositiveBigIntegerField(default=0)
    sum_reward = models.FloatField(default=0.0)
    sum_reward_sq = models.FloatField(default=0.0)
    sum_length = models.FloatField(default=0.0)
    sum_length_sq = models.FloatField(default=0.0)
    sum_length_reward = models.FloatField(default=0.0)
    min_reward = models.FloatField(null=True, blank=True)
    max_reward = models.FloatField(null=True, blank=True)
    histogram = models.JSONField(default=list, blank=True, help_text="Counts of normalized rewards per bin "
                                 "(rewardtrain.scoring.stats.BIN_EDGES), with an under- and an overflow bin.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_version", "day"]
        constraints = [models.UniqueConstraint(fields=["model_version", "day"], name="scoredaily_unique_day")]

    def __str__(self) -> str:
        return f"Scores of model {self.model_version_id} on {self.day}: {self.count}"


class Canary(models.Model):
    """One prompt of a project's canary set with its fixed responses: every new model version scores them,
    so its reward distribution can be compared with the active model's before promotion
    (rewardtrain.monitoring). A new import replaces the whole set."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="canaries")
    line = models.PositiveIntegerField(help_text="Line of the imported file.")
    prompt = models.TextField()
    responses = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "line"]

    def __str__(self) -> str:
        return f"Canary {self.line} of {self.project}"


class CanaryScore(models.Model):
    """A model version's rewards on its project's canary set (flattened in canary order), and the set's
    fingerprint at scoring time, so a re-imported set is scored again."""

    model_version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="canary_score")
    rewards = models.JSONField(default=list)
    canary_set = models.CharField(max_length=64, help_text="sha256 of the canary set that was scored.")
    scored_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Canary rewards of model {self.model_version_id} ({len(self.rewards)})"


class Alert(models.Model):
    """A monitoring rule that fired (rewardtrain.monitoring.alerts): at most one open alert per
    (project, rule, model version), so a rule that keeps firing does not pile up alerts."""

    class Rule(models.TextChoices):
        MEAN_DROP = "mean_drop", "Mean reward below baseline"
        LENGTH_CORRELATION = "length_correlation", "Reward–length correlation"
        CANARY_SHIFT = "canary_shift", "Canary shift of a candidate"

    class Severity(models.TextChoices):
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alerts")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.CASCADE,
                                      related_name="alerts")
    rule = models.CharField(max_length=32, choices=Rule.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    message = models.TextField()
    numbers = models.JSONField(default=dict, blank=True, help_text="The measured values and the thresholds.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["project", "rule", "model_version"],
                                               condition=~Q(status="resolved"),
                                               name="alert_one_unresolved_per_rule_model")]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} ({self.status})"
