"""Judgements, oldest first: admins and ML engineers see all; an annotator sees only their own."""
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.response import Response

from annotation.models import Judgement
from annotation.permissions import DATA_ROLES, user_roles
from annotation.selectors.judgements import judgements_filter, judgements_visible

from .common import PiiMaskedReads, DateRangeIn, IdCursorPagination, ProjectScopedMixin, id_field


class JudgementOut(serializers.ModelSerializer):
    annotator_username = serializers.CharField(source="annotator.username", read_only=True)
    rubric_version = serializers.IntegerField(source="rubric.version", allow_null=True, read_only=True)
    gold_correct = serializers.SerializerMethodField(
        help_text="Whether a gold answer matched; null for non-gold tasks, and always null for annotators, "
                  "so that they cannot tell which tasks were gold.")

    class Meta:
        model = Judgement
        fields = ["id", "task", "annotator", "annotator_username", "ranking", "strength", "both_bad", "criteria",
                  "rationale", "duration_ms", "display_order", "rubric_version", "is_surplus", "gold_correct",
                  "created_at", "revision", "history"]

    def get_gold_correct(self, judgement) -> bool | None:
        return judgement.gold_correct if self.context.get("sees_gold") else None


class JudgementListIn(DateRangeIn):
    task = id_field(required=False)
    annotator = id_field(required=False, help_text="User id (project admins and ML engineers only).")


class JudgementListApi(PiiMaskedReads, ProjectScopedMixin, generics.GenericAPIView):
    """Judgements, oldest first. Admins and ML engineers see all; an annotator sees only their own. Under
    the mask-export PII policy, rationales are masked for all but project admins."""

    serializer_class = JudgementOut
    pagination_class = IdCursorPagination

    def judgements(self):
        return judgements_visible(project=self.get_project(), user=self.request.user)

    def get_serializer_context(self):
        roles = user_roles(user=self.request.user, project=self.get_project())
        return {**super().get_serializer_context(), "sees_gold": bool(roles & set(DATA_ROLES))}

    @extend_schema(parameters=[JudgementListIn], responses=JudgementOut(many=True),
                   summary="Judgements (an annotator sees only their own)")
    def get(self, request, project_id):
        f = self.filters(JudgementListIn)
        qs = judgements_filter(judgements=self.judgements(), since=f.get("since"), until=f.get("until"),
                               task_id=f.get("task"), annotator_id=f.get("annotator"))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.out(self.get_serializer(page, many=True).data))


class JudgementDetailApi(JudgementListApi):
    pagination_class = None

    @extend_schema(responses=JudgementOut, summary="One judgement")
    def get(self, request, project_id, judgement_id):
        judgement = self.judgements().filter(pk=judgement_id).first()
        if judgement is None:
            raise exceptions.NotFound("No such judgement.")
        return Response(self.out(self.get_serializer(judgement).data))
