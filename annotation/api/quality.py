"""Quality numbers over the API: agreement, the annotator table and the source-model leaderboard.
Project admins and ML engineers read them; annotators get 403 (they would see each other's work)."""
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from annotation.permissions import DATA_ROLES
from annotation.quality.agreement import agreement_compute
from annotation.quality.annotators import annotator_stats_list
from annotation.quality.leaderboard import leaderboard_compute
from annotation.quality.units import COMPUTING, scope_check

from .common import InvalidInput, ProjectScopedMixin, id_field



def interval(help_text="Bootstrap 95 % interval [low, high] over tasks; null when undefined.") -> serializers.ListField:
    return serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True,
                                 help_text=help_text)


class QualityScopeIn(serializers.Serializer):
    criterion = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                      help_text="A rubric criterion key; the overall choice when left out.")
    batch = id_field(required=False, help_text="Only tasks of this batch.")


class AgreementCiOut(serializers.Serializer):
    percent_agreement = interval()
    krippendorff_alpha = interval()
    krippendorff_alpha_interval = interval()
    fleiss_kappa = interval()


class AgreementOut(serializers.Serializer):
    criterion = serializers.CharField(help_text="\"\" for the overall choice.")
    batch = serializers.IntegerField(allow_null=True)
    n_tasks = serializers.IntegerField(help_text="Tasks with a response pair labelled by two or more annotators.")
    n_units = serializers.IntegerField(help_text="(task, response pair) units labelled twice or more.")
    n_labels = serializers.IntegerField()
    label_counts = serializers.DictField(child=serializers.IntegerField(), help_text="A, B, tie, both_bad.")
    percent_agreement = serializers.FloatField(allow_null=True, help_text="Agreeing annotator pairs / all pairs.")
    krippendorff_alpha = serializers.FloatField(allow_null=True, help_text="Nominal, on A / B / tie / both bad.")
    krippendorff_alpha_interval = serializers.FloatField(allow_null=True, help_text="Interval, on the signed strength.")
    fleiss_kappa = serializers.FloatField(allow_null=True,
                                          help_text="Only when every unit has the same number of labels; else null.")
    ci = AgreementCiOut()


class AnnotatorOut(serializers.Serializer):
    annotator_id = serializers.IntegerField()
    username = serializers.CharField()
    judgements = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    skips = serializers.IntegerField()
    skip_rate = serializers.FloatField(allow_null=True)
    tie_rate = serializers.FloatField(allow_null=True)
    gold_answers = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)
    gold_ci = interval("Wilson 95 % interval of the gold accuracy; null without gold answers.")
    agreement_with_majority = serializers.FloatField(allow_null=True, help_text="With the leave-one-out majority.")
    majority_units = serializers.IntegerField()
    agreement_with_model = serializers.FloatField(
        allow_null=True, help_text="Share of the response pairs the annotator ordered in which they put the active reward "
                                   "model's choice (higher reward) first; a tie counts as not agreeing. Over the most "
                                   "recently judged tasks a worker scored; null without an active model or while computing.")
    model_pairs = serializers.IntegerField(help_text="Response pairs compared with the model.")
    agreement_with_adjudication = serializers.FloatField(
        allow_null=True, help_text="Share of the annotator's judgements on adjudicated tasks that give the verdict's answer.")
    adjudicated_judgements = serializers.IntegerField()
    reliability = serializers.FloatField(
        allow_null=True, help_text="Dawid–Skene reliability: the fitted chance of answering a response pair's true label.")
    position_bias = serializers.FloatField(allow_null=True, help_text="Share of decisive answers choosing the first-shown response.")
    position_bias_n = serializers.IntegerField()
    position_bias_p = serializers.FloatField(allow_null=True, help_text="Two-sided binomial test against 0.5.")
    flags = serializers.ListField(child=serializers.CharField())


class LeaderboardModelOut(serializers.Serializer):
    model = serializers.CharField()
    rating = serializers.FloatField(help_text="Elo scale: 1000 + 400·log10 of the Bradley–Terry odds.")
    ci = interval("Bootstrap 95 % interval of the rating over resampled battles.")
    strength = serializers.FloatField(help_text="Bradley–Terry log-strength, mean 0.")
    battles = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    ties = serializers.IntegerField()


class LeaderboardOut(serializers.Serializer):
    criterion = serializers.CharField()
    battles = serializers.IntegerField()
    models = LeaderboardModelOut(many=True)
    win_rate = serializers.DictField(child=serializers.DictField(child=serializers.FloatField(allow_null=True)),
                                     help_text="win_rate[a][b]: share of a's battles against b that a won (ties half).")


class ComputingOut(serializers.Serializer):
    status = serializers.CharField(help_text="\"computing\"")
    detail = serializers.CharField()


def _answer(value, serializer, *, many: bool = False) -> Response:
    """The numbers, or 202 while a worker computes them for the first time (a large project)."""
    if value is COMPUTING:
        return Response({"status": "computing", "detail": "A worker is computing these numbers for the first time; "
                         "ask again after Retry-After seconds."}, status=202, headers={"Retry-After": "10"})
    return Response(serializer(value, many=many).data)


class _QualityApi(ProjectScopedMixin, generics.GenericAPIView):
    read_roles = DATA_ROLES
    pagination_class = None

    def scope(self) -> tuple[str, int | None]:
        f = self.filters(QualityScopeIn)
        try:
            criterion = scope_check(project=self.get_project(), criterion=f.get("criterion", ""), batch_id=f.get("batch"))
        except ValueError as exc:
            raise InvalidInput(str(exc))
        return criterion, f.get("batch")


class AgreementApi(_QualityApi):
    serializer_class = AgreementOut

    @extend_schema(parameters=[QualityScopeIn], responses={200: AgreementOut, 202: ComputingOut},
                   summary="Inter-annotator agreement (overall choice unless a criterion is named)")
    def get(self, request, project_id):
        criterion, batch_id = self.scope()
        return _answer(agreement_compute(project=self.get_project(), criterion=criterion, batch_id=batch_id,
                                         wait=False), AgreementOut)


class AnnotatorStatsApi(_QualityApi):
    serializer_class = AnnotatorOut

    @extend_schema(responses={200: AnnotatorOut(many=True), 202: ComputingOut},
                   summary="One row of quality statistics per annotator")
    def get(self, request, project_id):
        return _answer(annotator_stats_list(project=self.get_project(), wait=False), AnnotatorOut, many=True)


class LeaderboardIn(serializers.Serializer):
    criterion = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                      help_text="A rubric criterion key; the overall choice when left out.")


class LeaderboardApi(_QualityApi):
    serializer_class = LeaderboardOut

    @extend_schema(parameters=[LeaderboardIn], responses={200: LeaderboardOut, 202: ComputingOut},
                   summary="Bradley–Terry leaderboard of the source models, with bootstrap intervals")
    def get(self, request, project_id):
        f = self.filters(LeaderboardIn)
        try:
            criterion = scope_check(project=self.get_project(), criterion=f.get("criterion", ""))
        except ValueError as exc:
            raise InvalidInput(str(exc))
        return _answer(leaderboard_compute(project=self.get_project(), criterion=criterion, wait=False), LeaderboardOut)
