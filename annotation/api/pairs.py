"""Preference pairs (human and imported), oldest first (project admins and ML engineers)."""
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.response import Response

from annotation.models import PreferencePair
from annotation.permissions import DATA_ROLES
from annotation.selectors.pairs import criterion_from_input, pairs_filter

from .common import YES_NO, DateRangeIn, IdCursorPagination, PiiMaskedReads, ProjectScopedMixin, id_field, yes_no
from .tasks import PromptOut


class PairResponseOut(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()


class PairOut(serializers.ModelSerializer):
    prompt = PromptOut()
    chosen = PairResponseOut()
    rejected = PairResponseOut()

    class Meta:
        model = PreferencePair
        fields = ["id", "prompt", "chosen", "rejected", "margin", "strength", "criterion", "is_tie", "source",
                  "judgement", "batch", "weight", "provenance", "created_at"]


class PairListIn(DateRangeIn):
    source = serializers.ChoiceField(choices=PreferencePair.Source.choices, required=False)
    criterion = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                      help_text='Criterion key; "overall" (or empty) for the overall preference.')
    batch = id_field(required=False)
    judgement = id_field(required=False)
    is_tie = serializers.ChoiceField(choices=YES_NO, required=False)


class PairListApi(PiiMaskedReads, ProjectScopedMixin, generics.GenericAPIView):
    """Preference pairs (human and imported), oldest first (project admins and ML engineers)."""

    read_roles = DATA_ROLES
    serializer_class = PairOut
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[PairListIn], responses=PairOut(many=True), summary="Preference pairs, filtered")
    def get(self, request, project_id):
        f = self.filters(PairListIn)
        qs = pairs_filter(
            project=self.get_project(), since=f.get("since"), until=f.get("until"),
            sources=[f["source"]] if "source" in f else (),
            criteria=[criterion_from_input(f["criterion"])] if "criterion" in f else (),
            batch_ids=[f["batch"]] if "batch" in f else (), judgement_id=f.get("judgement"),
            is_tie=yes_no(f.get("is_tie")),
        ).select_related("prompt", "chosen", "rejected")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.out(PairOut(page, many=True).data))


class PairDetailApi(PiiMaskedReads, ProjectScopedMixin, generics.GenericAPIView):
    """One preference pair (project admins and ML engineers)."""

    read_roles = DATA_ROLES
    serializer_class = PairOut

    @extend_schema(responses=PairOut, summary="One preference pair")
    def get(self, request, project_id, pair_id):
        pair = (PreferencePair.objects.filter(project=self.get_project(), pk=pair_id)
                .select_related("prompt", "chosen", "rejected").first())
        if pair is None:
            raise exceptions.NotFound("No such pair.")
        return Response(self.out(PairOut(pair).data))
