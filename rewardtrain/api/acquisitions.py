"""Acquisition rounds over the API: start one on the project's pool (202), list them, read one with
its picks. Project admins and ML engineers; annotators get 403, non-members 404."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from annotation.api.common import Conflict, InvalidInput, ProjectScopedMixin
from annotation.permissions import DATA_ROLES
from rewardtrain.ml.acquisition import STRATEGIES

from ..active.selectors import acquisition_round_picks, acquisition_rounds_of_project
from ..active.services import (MAX_CANDIDATES_LIMIT, ROUND_MAX_SIZE, AcquisitionConflict, AcquisitionError,
                               acquisition_round_create)
from ..models import AcquisitionPick, AcquisitionRound
from .training import ObjectProjectMixin


class AcquisitionRoundIn(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=STRATEGIES, help_text="random is the control.")
    size = serializers.IntegerField(min_value=1, max_value=ROUND_MAX_SIZE, help_text="Pool tasks to open.")
    epsilon = serializers.FloatField(required=False, default=0.1, min_value=0, max_value=1,
                                     help_text="Share of the picks drawn uniformly at random.")
    diversity = serializers.FloatField(required=False, default=0.3, min_value=0, max_value=1,
                                       help_text="How strongly picks similar to earlier picks are damped; 0 = off.")
    seed = serializers.IntegerField(required=False, default=None, allow_null=True,
                                    help_text="Random seed; defaults to the round's number in the project.")
    max_candidates = serializers.IntegerField(
        required=False, default=None, allow_null=True, min_value=0, max_value=MAX_CANDIDATES_LIMIT,
        help_text="Pool tasks scored at most: a larger pool is sampled uniformly at random (seeded); 0 = the "
                  "whole pool; default VERDICT_ACQUISITION_MAX_CANDIDATES (20,000).")


class AcquisitionPickOut(serializers.ModelSerializer):
    task_status = serializers.CharField(source="task.status", read_only=True)
    completed_judgements = serializers.IntegerField(source="task.completed_judgements", read_only=True)

    class Meta:
        model = AcquisitionPick
        fields = ["task", "rank", "score", "explore", "rewards", "task_status", "completed_judgements"]


class AcquisitionRoundOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    model = serializers.SerializerMethodField()
    labels = serializers.SerializerMethodField(help_text="Judgements the picked tasks have received so far.")

    class Meta:
        model = AcquisitionRound
        fields = ["id", "project", "strategy", "size", "params", "trigger", "status", "progress", "pool_size",
                  "chunks_total", "chunks_done", "picked", "labels", "error", "model", "created_by", "created_at",
                  "started_at", "finished_at"]

    def get_model(self, round_) -> dict:
        return {"id": round_.model_version_id, "version": round_.model_version.version}

    def get_labels(self, round_) -> int:
        return getattr(round_, "labels", 0)


class AcquisitionRoundDetailOut(AcquisitionRoundOut):
    picks = serializers.SerializerMethodField()
    pool_scores = serializers.JSONField(read_only=True, help_text="Histogram of the pool's and the picks' "
                                                                  "uncertainty (4 σ(Δr)(1 − σ(Δr))).")

    class Meta(AcquisitionRoundOut.Meta):
        fields = AcquisitionRoundOut.Meta.fields + ["pool_scores", "picks"]

    def get_picks(self, round_) -> list[dict]:
        return AcquisitionPickOut(acquisition_round_picks(round_=round_), many=True).data


def _detail(round_: AcquisitionRound) -> dict:
    round_ = acquisition_rounds_of_project(project=round_.project).get(pk=round_.pk)
    return AcquisitionRoundDetailOut(round_).data


class AcquisitionRoundListCreateApi(ProjectScopedMixin, GenericAPIView):
    """Acquisition rounds of the project, newest first; POST starts one (202): the active model scores
    the pool on workers and the picks are opened to annotators, served before other tasks."""

    read_roles = DATA_ROLES
    write_roles = DATA_ROLES
    pagination_class = None
    serializer_class = AcquisitionRoundOut

    @extend_schema(responses=AcquisitionRoundOut(many=True), summary="Acquisition rounds of the project")
    def get(self, request, project_id):
        rounds = acquisition_rounds_of_project(project=self.get_project())
        return Response(AcquisitionRoundOut(rounds, many=True).data)

    @extend_schema(request=AcquisitionRoundIn, responses={202: AcquisitionRoundDetailOut},
                   summary="Start an acquisition round (409 without an active model, pool tasks, or while "
                           "another round runs)")
    def post(self, request, project_id):
        data = AcquisitionRoundIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            round_ = acquisition_round_create(project=self.get_project(), user=request.user, **data.validated_data)
        except AcquisitionConflict as error:
            raise Conflict(str(error))
        except AcquisitionError as error:
            raise InvalidInput(str(error))
        return Response(_detail(round_), status=status.HTTP_202_ACCEPTED)


class AcquisitionRoundDetailApi(ObjectProjectMixin, GenericAPIView):
    """A round's status, progress, error, score histogram and picks (task, rank, score, rewards)."""

    model = AcquisitionRound
    lookup_kwarg = "round_id"
    write_roles = DATA_ROLES
    serializer_class = AcquisitionRoundDetailOut

    @extend_schema(responses=AcquisitionRoundDetailOut, summary="One acquisition round with its picks")
    def get(self, request, round_id):
        return Response(_detail(self.get_object()))
