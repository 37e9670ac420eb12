"""Snapshot jobs and training runs over the API.

Roles: ML engineers start and cancel runs; project admins read them (and, as with the synchronous
snapshot endpoint, may also cut snapshots). Non-members get 404 everywhere, so ids do not leak.
"""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from annotation.api.common import InvalidInput, ObjectProjectMixin, ProjectScopedMixin, id_field
from annotation.permissions import DATA_ROLES, Role

from rewardtrain.ml.acquisition import STRATEGIES

from .snapshots import SnapshotCreateIn
from ..models import SnapshotJob, TrainingMetric, TrainingPolicy, TrainingRun
from ..snapshots.filters import SnapshotError
from ..snapshots.jobs import snapshot_job_create
from ..training.policy import (PolicyError, training_policy_new_judgements, training_policy_of,
                               training_policy_update)
from ..training.services import RunError, training_run_cancel, training_run_create

ML_ONLY = (Role.ML,)


class ProjectMlApi(ProjectScopedMixin, GenericAPIView):
    """Under /projects/{id}/: ML engineers write, project admins read; short lists, no pagination."""

    read_roles = DATA_ROLES
    write_roles = ML_ONLY
    pagination_class = None


# --- snapshot jobs --------------------------------------------------------------------------------

class SnapshotJobOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = SnapshotJob
        fields = ["id", "project", "status", "stage", "progress", "error", "snapshot", "params", "created_by",
                  "created_at", "started_at", "finished_at"]


class SnapshotJobCreateApi(ProjectScopedMixin, GenericAPIView):
    """Cut a snapshot on a worker: 202 with the job; poll the job until its `snapshot` is set."""

    read_roles = DATA_ROLES
    write_roles = DATA_ROLES
    serializer_class = SnapshotJobOut

    @extend_schema(request=SnapshotCreateIn, responses={202: SnapshotJobOut},
                   summary="Start cutting a snapshot (same filters as the snapshot endpoint)")
    def post(self, request, project_id):
        data = SnapshotCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = snapshot_job_create(project=self.get_project(), params=dict(data.validated_data),
                                      user=request.user)
        except SnapshotError as error:
            raise InvalidInput(str(error))
        return Response(SnapshotJobOut(job).data, status=status.HTTP_202_ACCEPTED)


class SnapshotJobDetailApi(ObjectProjectMixin, GenericAPIView):
    """A snapshot job's status, progress and error; `snapshot` is the snapshot id once it succeeded."""

    model = SnapshotJob
    lookup_kwarg = "job_id"
    write_roles = DATA_ROLES
    serializer_class = SnapshotJobOut

    @extend_schema(responses=SnapshotJobOut, summary="One snapshot job")
    def get(self, request, job_id):
        return Response(SnapshotJobOut(self.get_object()).data)


# --- training runs --------------------------------------------------------------------------------

class TrainingRunIn(serializers.Serializer):
    snapshot = id_field(help_text="A snapshot of this project.")
    config = serializers.JSONField(default=dict, help_text="TrainConfig fields (epochs, lr, max_steps, model, ...); "
                                                           "unset fields take the app defaults.")


class TrainingMetricOut(serializers.ModelSerializer):
    class Meta:
        model = TrainingMetric
        fields = ["step", "kind", "loss", "accuracy", "lr", "extra"]


class TrainingRunOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    metrics = TrainingMetricOut(many=True, read_only=True)
    model = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "project", "snapshot", "config", "trigger", "trigger_reason", "auto_decision",
                  "status", "progress", "error", "attempts", "worker",
                  "heartbeat_at", "cancel_requested", "checkpoint_step", "resumed_from_step", "created_by",
                  "created_at", "started_at", "finished_at", "metrics", "model"]

    def get_model(self, run) -> int | None:
        model = getattr(run, "model_version", None)
        return model.pk if model else None


class TrainingRunSummaryOut(TrainingRunOut):
    """A run in a list: everything but the per-step metrics (read them from the run itself)."""

    metrics = None

    class Meta(TrainingRunOut.Meta):
        fields = [f for f in TrainingRunOut.Meta.fields if f != "metrics"]


def _run_queryset():
    return TrainingRun.objects.select_related("created_by", "model_version").prefetch_related("metrics")


class TrainingRunListCreateApi(ProjectMlApi):
    """Training runs of the project: ML engineers start one on a snapshot; admins read them."""

    serializer_class = TrainingRunOut

    @extend_schema(responses=TrainingRunSummaryOut(many=True), summary="Training runs of the project, newest first")
    def get(self, request, project_id):
        runs = TrainingRun.objects.filter(project=self.get_project()).select_related("created_by", "model_version")
        return Response(TrainingRunSummaryOut(runs, many=True).data)

    @extend_schema(request=TrainingRunIn, responses={201: TrainingRunOut},
                   summary="Start a training run on a snapshot (queued for a training worker)")
    def post(self, request, project_id):
        data = TrainingRunIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = training_run_create(project=self.get_project(), snapshot_id=data.validated_data["snapshot"],
                                      config=data.validated_data["config"], user=request.user)
        except RunError as error:
            raise InvalidInput(str(error))
        return Response(TrainingRunOut(_run_queryset().get(pk=run.pk)).data, status=status.HTTP_201_CREATED)


class TrainingRunDetailApi(ObjectProjectMixin, GenericAPIView):
    """A run's status, progress, error, per-step metrics and the registered model (id or null)."""

    model = TrainingRun
    lookup_kwarg = "run_id"
    serializer_class = TrainingRunOut

    @extend_schema(responses=TrainingRunOut, summary="One training run")
    def get(self, request, run_id):
        self.get_object()
        return Response(TrainingRunOut(_run_queryset().get(pk=run_id)).data)


class TrainingRunCancelApi(ObjectProjectMixin, GenericAPIView):
    """Cancel a run: a queued one at once, a running one within seconds (ML engineers)."""

    model = TrainingRun
    lookup_kwarg = "run_id"
    serializer_class = TrainingRunOut

    @extend_schema(request=None, responses=TrainingRunOut, summary="Cancel a training run")
    def post(self, request, run_id):
        run = self.get_object()
        if run.status in TrainingRun.FINISHED:
            raise InvalidInput(f"Run {run.pk} has already finished ({run.status}); there is nothing to cancel.")
        training_run_cancel(run=run)
        return Response(TrainingRunOut(_run_queryset().get(pk=run_id)).data)


# --- the retrain loop's policy --------------------------------------------------------------------

class TrainingPolicyOut(serializers.ModelSerializer):
    new_judgements = serializers.SerializerMethodField(help_text="Human judgements since the last automatic run.")
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null until first set.")

    class Meta:
        model = TrainingPolicy
        fields = ["retrain_every", "auto_promote", "auto_promote_manual", "promote_confidence", "config",
                  "snapshot_val_fraction", "acquire_after_promote", "acquire_every_hours", "acquire_strategy",
                  "acquire_size", "new_judgements", "last_triggered_at", "last_note", "updated_at"]

    def get_new_judgements(self, policy) -> int | None:
        return training_policy_new_judgements(policy=policy) if policy.retrain_every else None


class TrainingPolicyIn(serializers.Serializer):
    retrain_every = serializers.IntegerField(min_value=0, required=False,
                                             help_text="New human judgements that start a retrain; 0 = off.")
    auto_promote = serializers.BooleanField(required=False)
    auto_promote_manual = serializers.BooleanField(required=False, help_text="Also decide on runs started by hand.")
    promote_confidence = serializers.FloatField(required=False, help_text="Above 0.5 and below 1, e.g. 0.95.")
    config = serializers.JSONField(required=False, help_text="TrainConfig overrides for automatic runs.")
    snapshot_val_fraction = serializers.FloatField(required=False)
    acquire_after_promote = serializers.BooleanField(required=False,
                                                     help_text="Start an acquisition round after every promotion.")
    acquire_every_hours = serializers.IntegerField(min_value=0, required=False,
                                                   help_text="Start an acquisition round every N hours; 0 = off.")
    acquire_strategy = serializers.ChoiceField(choices=STRATEGIES, required=False,
                                               help_text="Strategy of automatic acquisition rounds.")
    acquire_size = serializers.IntegerField(min_value=1, required=False, help_text="Tasks each automatic round opens.")


class TrainingPolicyApi(ProjectMlApi):
    """The project's retrain loop (ML engineers change it; admins read it): retrain after N new judgements,
    promote automatically when the new model is better."""

    serializer_class = TrainingPolicyOut

    @extend_schema(responses=TrainingPolicyOut, summary="The project's training policy")
    def get(self, request, project_id):
        return Response(TrainingPolicyOut(training_policy_of(project=self.get_project())).data)

    @extend_schema(request=TrainingPolicyIn, responses=TrainingPolicyOut, summary="Change the training policy")
    def patch(self, request, project_id):
        data = TrainingPolicyIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            policy = training_policy_update(project=self.get_project(), user=request.user, **data.validated_data)
        except PolicyError as error:
            raise InvalidInput(str(error))
        return Response(TrainingPolicyOut(policy).data)
