"""Input and output serializers of the resource API (projects, rubrics, batches, tasks, judgements, pairs).

Inputs and outputs are separate classes, so the OpenAPI schema says exactly what goes in and out.
Query-string filters are serializers too: bad values become 400s in the one error shape.
"""
from rest_framework import serializers

from .models import Batch, Criterion, Judgement, PreferencePair, Project, Rubric, Task
from .permissions import user_roles

MAX_ID = 2**63 - 1  # PostgreSQL bigint: larger ids cannot exist, and must not reach the database
YES_NO = ["true", "false"]


def id_field(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class ProjectOut(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "instructions", "mode", "rubric", "strength_scale", "allow_ties",
                  "allow_both_bad", "rationale_required", "overlap", "lease_seconds", "gold_rate", "created_at",
                  "roles"]

    def get_roles(self, project) -> list[str]:
        return sorted(user_roles(user=self.context["request"].user, project=project))


class CriterionOut(serializers.ModelSerializer):
    class Meta:
        model = Criterion
        fields = ["key", "label", "description", "position"]


class RubricOut(serializers.ModelSerializer):
    criteria = CriterionOut(many=True, read_only=True)
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = Rubric
        fields = ["id", "name", "version", "is_active", "created_at", "criteria"]

    def get_is_active(self, rubric) -> bool:
        return rubric.project.rubric_id == rubric.pk


class CriterionIn(serializers.Serializer):
    key = serializers.SlugField(max_length=64)
    label = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class RubricIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, default="Rubric")
    criteria = CriterionIn(many=True, allow_empty=False, max_length=50)
    activate = serializers.BooleanField(default=True, help_text="Make this version the one new judgements use.")

    def validate_criteria(self, value):
        keys = [c["key"] for c in value]
        if len(keys) != len(set(keys)):
            raise serializers.ValidationError("Criterion keys must be unique.")
        return value


class BatchOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    tasks = serializers.IntegerField(source="task_count", read_only=True)

    class Meta:
        model = Batch
        fields = ["id", "name", "source", "created_by", "created_at", "tasks"]


class BatchUploadIn(serializers.Serializer):
    file = serializers.FileField(help_text="JSONL (optionally gzipped): one task per line, "
                                           '{"prompt": str | messages, "responses": [str | {"text", "model"}], ...}.')
    name = serializers.CharField(max_length=255, required=False, help_text="Batch name; defaults to the file name.")


class BatchUploadOut(serializers.Serializer):
    batch = BatchOut()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    lines = serializers.IntegerField()


class PromptOut(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    messages = serializers.JSONField(allow_null=True)


class TaskResponseOut(serializers.Serializer):
    id = serializers.IntegerField(source="response.id")
    position = serializers.IntegerField()
    text = serializers.CharField(source="response.text")
    source_model = serializers.CharField(source="response.source_model")


class TaskOut(serializers.ModelSerializer):
    prompt = PromptOut()
    responses = TaskResponseOut(source="slots", many=True)

    class Meta:
        model = Task
        fields = ["id", "batch", "status", "priority", "target_judgements", "completed_judgements", "is_gold",
                  "gold_ranking", "external_id", "metadata", "created_at", "prompt", "responses"]


class TaskPriorityIn(serializers.ModelSerializer):
    priority = serializers.FloatField(min_value=-1e12, max_value=1e12, help_text="Higher is served first.")

    class Meta:
        model = Task
        fields = ["priority"]


class TaskFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=Task.Status.choices, required=False)
    batch = id_field(required=False)
    is_gold = serializers.ChoiceField(choices=YES_NO, required=False)
    min_priority = serializers.FloatField(required=False)


class JudgementOut(serializers.ModelSerializer):
    annotator_username = serializers.CharField(source="annotator.username", read_only=True)
    rubric_version = serializers.IntegerField(source="rubric.version", allow_null=True, read_only=True)

    class Meta:
        model = Judgement
        fields = ["id", "task", "annotator", "annotator_username", "ranking", "strength", "both_bad", "criteria",
                  "rationale", "duration_ms", "display_order", "rubric_version", "is_surplus", "gold_correct",
                  "created_at"]


class DateRangeFilter(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="Recorded on or after this date.")
    until = serializers.DateField(required=False, help_text="Recorded on or before this date.")


class JudgementFilter(DateRangeFilter):
    task = id_field(required=False)
    annotator = id_field(required=False, help_text="User id (project admins and ML engineers only).")


class ResponseRef(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()


class PairOut(serializers.ModelSerializer):
    prompt = PromptOut()
    chosen = ResponseRef()
    rejected = ResponseRef()

    class Meta:
        model = PreferencePair
        fields = ["id", "prompt", "chosen", "rejected", "margin", "strength", "criterion", "is_tie", "source",
                  "judgement", "batch", "weight", "provenance", "created_at"]


class PairFilter(DateRangeFilter):
    source = serializers.ChoiceField(choices=PreferencePair.Source.choices, required=False)
    criterion = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                      help_text='Criterion key; "overall" (or empty) for the overall preference.')
    batch = id_field(required=False)
    judgement = id_field(required=False)
    is_tie = serializers.ChoiceField(choices=YES_NO, required=False)
