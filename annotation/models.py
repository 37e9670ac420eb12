"""Projects, rubrics, prompts, responses, tasks, assignments, judgements and preference pairs.

Invariants the database enforces (not just the code): one judgement per (task, annotator), one
active lease per (annotator, project), unique content hashes per project for deduplicated imports,
and sane ranges for counters and settings.
"""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

DEFAULT_STRENGTH_SCALE = ["negligibly better", "slightly better", "clearly better", "much better"]


def default_strength_scale() -> list[str]:
    return list(DEFAULT_STRENGTH_SCALE)


class Project(models.Model):
    class Mode(models.TextChoices):
        PAIRWISE = "pairwise", "Pairwise"
        RANKING = "ranking", "K-way ranking"

    class PiiPolicy(models.TextChoices):
        """What happens to PII (annotation/pii): annotators see masked text under every policy."""
        OFF = "off", "Off: no detection"
        FLAG = "flag", "Flag: detect and list for admins, keep the text"
        MASK_EXPORT = "mask-export", "Mask on export: keep the raw text, mask every snapshot and export"
        MASK_IMPORT = "mask-import", "Mask on import: store placeholders, never the raw value"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    instructions = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.PAIRWISE)
    rubric = models.ForeignKey("Rubric", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               help_text="The rubric version in force for new judgements.")
    strength_scale = models.JSONField(default=default_strength_scale, blank=True,
                                      help_text="Labels from weakest to strongest preference.")
    allow_ties = models.BooleanField(default=True)
    allow_both_bad = models.BooleanField(default=True)
    rationale_required = models.BooleanField(default=False)
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Judgements wanted per task.")
    lease_seconds = models.PositiveIntegerField(default=600)
    gold_rate = models.FloatField(default=0.0, help_text="Share of served tasks that are gold (0..1).")
    # Adaptive overlap: a task that reaches its target with judgements disagreeing more than
    # `dispute_threshold` (the share not agreeing with the most common answer) gets one more
    # judgement wanted, up to `max_overlap` (annotation.services.judgements).
    adaptive_overlap = models.BooleanField(default=False, help_text="Ask more annotators on disputed tasks.")
    max_overlap = models.PositiveSmallIntegerField(
        default=5, help_text="Adaptive overlap never raises a task's target past this (nor past the overlap, if larger).")
    dispute_threshold = models.FloatField(
        default=0.25, help_text="A task is disputed when more than this share of its judgements (0..1) "
                                "differ from its most common answer.")
    pii_policy = models.CharField(max_length=16, choices=PiiPolicy.choices, default=PiiPolicy.OFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(condition=Q(dispute_threshold__gte=0) & Q(dispute_threshold__lt=1),
                                   name="project_dispute_threshold_0_1"),
            models.CheckConstraint(condition=Q(lease_seconds__gte=30), name="project_lease_at_least_30s"),
            models.CheckConstraint(condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=1), name="project_gold_rate_0_1"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def gold_rate_percent(self) -> str:
        """The gold rate as pages show and take it: a percent, unrounded ("12.5"), never a fraction."""
        return f"{round(self.gold_rate * 100, 6):g}"


class Membership(models.Model):
    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        ADMIN = "admin", "Project admin"
        ML = "ml", "ML engineer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user", "role"], name="membership_unique_role")]
        indexes = [models.Index(fields=["user", "project"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} · {self.project}"


class Rubric(models.Model):
    """One version of a project's rubric. A version that judgements use is never edited in place."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rubrics")
    name = models.CharField(max_length=200, default="Rubric")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="rubric_unique_version")]

    def __str__(self) -> str:
        return f"{self.project} · {self.name} v{self.version}"

    @property
    def is_used(self) -> bool:
        """A version that judgements point at is evidence: it is never edited in place."""
        return self.judgements.exists()


# "overall" (any case) and "" name the overall preference in pair filters and snapshots, "*" means
# every criterion: a rubric criterion with one of these keys could not be told apart from them.
RESERVED_CRITERION_KEYS = ("overall", "*")


def criterion_key_problem(key: str) -> str | None:
    """Why `key` cannot be a criterion key, or None; the one rule the service, API and admin apply."""
    if not key.strip():
        return "A criterion key must not be empty."
    if key.strip().lower() in RESERVED_CRITERION_KEYS:
        return (f"“{key}” is reserved: “overall” is the overall preference and “*” means every criterion "
                f"in pair filters and snapshots. Choose another key, e.g. “overall_quality”.")
    return None


class Criterion(models.Model):
    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="criteria")
    key = models.SlugField(max_length=64)
    label = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rubric", "position", "id"]
        verbose_name_plural = "criteria"
        constraints = [models.UniqueConstraint(fields=["rubric", "key"], name="criterion_unique_key")]

    def __str__(self) -> str:
        return self.label

    def clean(self):
        if problem := criterion_key_problem(self.key or ""):
            raise ValidationError({"key": problem})


class Batch(models.Model):
    """A group of tasks that arrived together (one uploaded or imported file)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=255)
    source = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    paused = models.BooleanField(default=False, help_text="Its tasks are not served until it is resumed.")

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    """The life of a background job whose outcome is success or failure (imports, snapshot and scoring jobs)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """An upload too large to import inside the request: the file waits in storage and a worker runs the
    same all-or-nothing import on it. While it runs, live progress is in the cache (the import is one
    transaction, so its own rows cannot show it); the row holds the outcome."""

    class Kind(models.TextChoices):
        TASKS = "tasks", "Tasks to annotate"
        PAIRS = "pairs", "Judged pairs"

    Status = JobStatus

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    pair_format = models.CharField(max_length=8, blank=True, help_text="trl or hh (pairs only).")
    pool = models.BooleanField(default=False, help_text="Tasks go into the active-learning pool (tasks only).")
    file = models.FileField(upload_to="imports/%Y/%m/%d/", max_length=500, blank=True,
                            help_text="The uploaded file in storage; removed once the job has finished.")
    filename = models.CharField(max_length=500, help_text="The name it was uploaded under (errors quote it).")
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes uploaded.")
    batch_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    rows_done = models.PositiveIntegerField(default=0, help_text="Lines read so far.")
    rows_total = models.PositiveIntegerField(null=True, blank=True, help_text="Lines in the file, once counted.")
    errors = models.JSONField(default=list, blank=True, help_text='Every problem, as "file:line: field: problem".')
    result = models.JSONField(default=dict, blank=True, help_text="created, duplicates, lines.")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="importjob_progress_0_1"),
        ]

    def __str__(self) -> str:
        return f"Import job {self.pk} ({self.status})"


class Prompt(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    text = models.TextField(help_text="Plain text; for chats, the transcript as text.")
    messages = models.JSONField(null=True, blank=True, help_text='Chat turns: [{"role": ..., "content": ...}]')
    metadata = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "content_hash"], name="prompt_unique_content")]
        indexes = [models.Index(fields=["project", "external_id"])]

    def __str__(self) -> str:
        return self.text[:80]


class Response(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="responses")
    text = models.TextField()
    source_model = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prompt", "content_hash"], name="response_unique_content")]

    def __str__(self) -> str:
        return self.text[:80]


class Task(models.Model):
    class Status(models.TextChoices):
        POOL = "pool", "Pool"  # imported, not yet released to annotators
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        RETIRED = "retired", "Retired"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="tasks")
    responses = models.ManyToManyField(Response, through="TaskSlot", related_name="tasks")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.FloatField(default=0.0, help_text="Higher is served first (set by active learning).")
    target_judgements = models.PositiveSmallIntegerField(default=1)
    completed_judgements = models.PositiveIntegerField(default=0)
    is_gold = models.BooleanField(default=False)
    gold_ranking = models.JSONField(null=True, blank=True,
                                    help_text="Expected ranking: groups of response ids, best first.")
    external_id = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="task_unique_content"),
            models.CheckConstraint(condition=Q(target_judgements__gte=1), name="task_target_positive"),
            models.CheckConstraint(condition=~Q(is_gold=True) | Q(gold_ranking__isnull=False),
                                   name="task_gold_has_answer"),
        ]
        indexes = [
            # The next-task query: open tasks of a project by priority.
            models.Index(fields=["project", "status", "-priority", "id"], name="task_next_idx"),
            models.Index(fields=["project", "is_gold", "status"], name="task_gold_idx"),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk}"


class TaskSlot(models.Model):
    """A response's canonical position within a task (display order is shuffled per assignment)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="slots")
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["task", "position"]
        constraints = [
            models.UniqueConstraint(fields=["task", "position"], name="slot_unique_position"),
            models.UniqueConstraint(fields=["task", "response"], name="slot_unique_response"),
        ]


class Assignment(models.Model):
    """A lease of a task to one annotator, with the shuffled order the responses were shown in."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PREFETCHED = "prefetched", "Prefetched (the annotator's next task)"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"

    HELD = (Status.ACTIVE, Status.PREFETCHED)  # until they expire, these hold a slot of their task

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    display_order = models.JSONField(help_text="Response ids in the order shown.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    skip_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotator", "project"], condition=Q(status="active"),
                                    name="assignment_one_active_per_annotator"),
            models.UniqueConstraint(fields=["annotator", "project"], condition=Q(status="prefetched"),
                                    name="assignment_one_prefetched_per_annotator"),
        ]
        indexes = [
            models.Index(fields=["task", "status"], name="assignment_task_status_idx"),
            models.Index(fields=["status", "expires_at"], name="assignment_expiry_idx"),
            models.Index(fields=["annotator", "task"], name="assignment_annotator_task_idx"),
        ]

    def __str__(self) -> str:
        return f"Assignment {self.pk} ({self.status})"


class Judgement(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="judgements")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="judgements")
    assignment = models.OneToOneField(Assignment, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="judgement")
    ranking = models.JSONField(help_text="Groups of response ids, best first; a group holds tied responses.")
    strength = models.PositiveSmallIntegerField(null=True, blank=True,
                                                help_text="Index into the project's strength scale.")
    both_bad = models.BooleanField(default=False)
    criteria = models.JSONField(default=dict, blank=True, help_text="Criterion key -> ranking.")
    rationale = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    display_order = models.JSONField(default=list)
    rubric = models.ForeignKey(Rubric, null=True, blank=True, on_delete=models.PROTECT, related_name="judgements")
    is_surplus = models.BooleanField(default=False, help_text="Arrived late, past the task's target.")
    gold_correct = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # A revision replaces the answer (and its pairs) in place: still one judgement per (task, annotator).
    revision = models.PositiveSmallIntegerField(default=0, help_text="How many times the annotator revised it.")
    history = models.JSONField(default=list, blank=True,
                               help_text="Earlier answers, oldest first, each with the time it was replaced.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "annotator"], name="judgement_unique_per_annotator")]
        indexes = [models.Index(fields=["annotator", "created_at"], name="judgement_annotator_day_idx")]

    def __str__(self) -> str:
        return f"Judgement {self.pk}"


class PreferencePair(models.Model):
    """A (prompt, chosen, rejected) row, written in the same transaction as its judgement."""

    class Source(models.TextChoices):
        HUMAN = "human", "Human"
        IMPORTED = "imported", "Imported"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pairs")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="pairs")
    chosen = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    rejected = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    margin = models.FloatField(default=0.0)
    strength = models.PositiveSmallIntegerField(null=True, blank=True)
    criterion = models.CharField(max_length=64, blank=True, help_text="Blank for the overall preference.")
    is_tie = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=Source.choices)
    judgement = models.ForeignKey(Judgement, null=True, blank=True, on_delete=models.CASCADE, related_name="pairs")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="pairs")
    weight = models.FloatField(default=1.0)
    provenance = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=64, null=True, blank=True,
                                  help_text="Content hash of imported pairs; re-imports are skipped.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "dedupe_key"], name="pair_unique_import"),
            models.CheckConstraint(condition=~Q(chosen=models.F("rejected")), name="pair_distinct_responses"),
            models.CheckConstraint(condition=Q(source="imported") | Q(judgement__isnull=False),
                                   name="pair_human_has_judgement"),
        ]
        indexes = [
            models.Index(fields=["project", "source", "created_at"], name="pair_project_source_idx"),
            models.Index(fields=["project", "criterion"], name="pair_project_criterion_idx"),
        ]

    def __str__(self) -> str:
        return f"Pair {self.pk}"


class Adjudication(models.Model):
    """A project admin's final verdict on a (disputed) task, with a note; "adjudicated, else majority"
    snapshots use it instead of the annotators' votes. One per task: deciding again replaces it."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="adjudication")
    ranking = models.JSONField(help_text="The verdict: groups of response ids, best first.")
    note = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Adjudication of task {self.task_id}"


class TaskModelPreference(models.Model):
    """A reward model's rewards for the responses of a judged task, written by a worker of `rewardtrain`
    (which scores; `annotation` never imports it, so the model version is an id, not a foreign key) and
    read by the annotator table's "agreement with the active reward model"."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="model_preferences")
    model_version_id = models.PositiveIntegerField(help_text="rewardtrain.ModelVersion id.")
    rewards = models.JSONField(help_text="Response id (as text) -> the model's overall reward.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "model_version_id"], name="task_model_pref_unique")]
        indexes = [models.Index(fields=["model_version_id", "task"], name="task_model_pref_version_idx")]

    def __str__(self) -> str:
        return f"Model {self.model_version_id} on task {self.task_id}"


class ModelAgreementState(models.Model):
    """Which model the project's TaskModelPreference rows are for, and where their computation stands
    (the annotator page says "no active model", "computing" or "version N, computed at …")."""

    class Status(models.TextChoices):
        NO_MODEL = "no_model", "No active model"
        COMPUTING = "computing", "Computing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="model_agreement")
    model_version_id = models.PositiveIntegerField(null=True, blank=True)
    model_label = models.CharField(max_length=100, blank=True, help_text="How pages name the model: “version 3”.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NO_MODEL)
    tasks_scored = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Model agreement of project {self.project_id}: {self.status}"


class PiiFinding(models.Model):
    """A PII value found on import (policies flag, mask-export, mask-import): where, what kind, and the
    value partly hidden (j***@e***.com). The raw value is never stored here."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pii_findings")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.CASCADE, related_name="pii_findings")
    source = models.CharField(max_length=500, blank=True, help_text="The imported file, or how the item arrived.")
    line = models.PositiveIntegerField(null=True, blank=True)
    field = models.CharField(max_length=200, help_text='Where in the row, e.g. "responses[1].text".')
    kind = models.CharField(max_length=16)
    hidden_value = models.CharField(max_length=200)
    masked = models.BooleanField(default=False, help_text="Replaced by its placeholder before it was stored.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "kind", "-id"], name="pii_finding_project_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} in {self.field} (line {self.line})"


class PiiApplyJob(models.Model):
    """A change of PII policy applied to what is already stored (annotation/pii/apply.py): texts that
    entered while the policy was off are scanned and their findings recorded; under mask-import every
    stored prompt, response and rationale is masked in place (irreversible). Progress counts texts."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pii_apply_jobs")
    policy = models.CharField(max_length=16, choices=Project.PiiPolicy.choices)
    mask = models.BooleanField(default=False, help_text="Rewrite stored texts with placeholders.")
    record = models.BooleanField(default=False, help_text="Record findings (texts that were never scanned).")
    record_since = models.DateTimeField(null=True, blank=True, help_text=(
        "Findings only for texts stored since (the policy's last switch off)."))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    masked_texts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"PII {self.policy} on project {self.project_id}: {self.status}"


class AuditEvent(models.Model):
    """One governance action: who, when, what, on which project and object. Append-only: the app has
    no way to edit or delete a row (read-only admin, no API write), and on PostgreSQL and SQLite a
    trigger refuses UPDATE and DELETE (migration 0008). Project and user are kept as plain ids (no
    foreign-key constraint) with their names, so deleting either leaves the trail intact."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                             db_constraint=False, related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    action = models.CharField(max_length=64, db_index=True)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                related_name="+")
    project_name = models.CharField(max_length=200, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["project", "-at"], name="audit_project_at_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username or '-'} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Audit events are append-only: they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit events are append-only: they cannot be deleted.")


class Webhook(models.Model):
    """A project's subscription: events are POSTed as JSON to `url`, signed with `secret`
    (X-Verdict-Signature: sha256=<hex HMAC-SHA256 of the body>); see annotation/services/webhooks.py."""

    class Event(models.TextChoices):
        SNAPSHOT_READY = "snapshot.ready", "Snapshot ready"
        RUN_FINISHED = "run.finished", "Training run finished (succeeded, failed or cancelled)"
        MODEL_PROMOTED = "model.promoted", "Model promoted"
        MODEL_ROLLED_BACK = "model.rolled_back", "Model rolled back"
        ALERT_FIRED = "alert.fired", "Alert fired"
        BATCH_COMPLETE = "batch.complete", "Batch complete"
        TEST = "webhook.test", "Test (the “send test” button; always delivered)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=128)
    events = models.JSONField(default=list, blank=True, help_text="Event names; empty means every event.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.project} → {self.url}"

    def wants(self, event: str) -> bool:
        if event == self.Event.TEST:  # "send test" tries any webhook, active or not
            return True
        return self.active and (not self.events or event in self.events)


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one webhook; a retry is a new row with the next attempt number
    and the same event id (X-Verdict-Delivery), so receivers can drop duplicates."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    event_id = models.UUIDField()
    payload = models.JSONField()
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    will_retry = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(null=True, blank=True, help_text="When this attempt is scheduled (back-off).")
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["webhook", "event_id", "attempt"],
                                               name="webhook_delivery_unique_attempt")]
        indexes = [models.Index(fields=["webhook", "-id"], name="webhook_delivery_recent_idx")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} #{self.attempt} → {self.webhook.url} ({self.status})"
