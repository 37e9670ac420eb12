"""Snapshots over the API: cut, list, read, verify, download (ML engineers and project admins only).

Annotators and non-members get nothing here: 403 for annotators, 404 for non-members.
Downloads stream from the stored artifact (StreamingHttpResponse), so any size is constant memory.
"""
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from annotation.services.audit import audit_record
from annotation.api.common import Conflict, InvalidInput, ProjectScopedMixin, id_field
from annotation.models import PreferencePair
from annotation.permissions import DATA_ROLES
from annotation.selectors.pairs import OVERALL_NAME
from rewardtrain.models import DatasetSnapshot
from rewardtrain.snapshots import exports
from rewardtrain.snapshots.filters import SnapshotError
from rewardtrain.snapshots.services import snapshot_cut, snapshot_get, snapshot_list, snapshot_verify

DOWNLOAD_FORMATS = (*exports.FORMATS, *exports.RAW_FORMATS)


class SnapshotCreateIn(serializers.Serializer):
    criteria = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=True), default=[OVERALL_NAME], max_length=100,
        help_text='Criterion keys; "overall" (the default, also for an empty list) is the overall '
                  'preference, "*" means every criterion.')
    sources = serializers.ListField(child=serializers.ChoiceField(choices=PreferencePair.Source.values), default=list,
                                    help_text="Empty: both.")
    since = serializers.DateField(required=False, allow_null=True)
    until = serializers.DateField(required=False, allow_null=True)
    batches = serializers.ListField(child=id_field(), default=list, max_length=1000)
    min_agreement = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1,
                                           help_text="Minimum share of votes on the majority side of a comparison.")
    exclude_gold = serializers.BooleanField(default=False)
    exclude_annotators = serializers.ListField(child=serializers.CharField(max_length=150), default=list,
                                               max_length=1000, help_text="Usernames or user ids.")
    aggregation = serializers.ChoiceField(choices=DatasetSnapshot.Aggregation.choices,
                                          default=DatasetSnapshot.Aggregation.EVERY)
    seed = serializers.IntegerField(default=0, min_value=-(2**31), max_value=2**31 - 1)
    val_fraction = serializers.FloatField(default=0.1, min_value=0, max_value=0.99)


class SnapshotOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    downloads = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField(help_text="What to know before training on it, e.g. no validation rows.")

    class Meta:
        model = DatasetSnapshot
        fields = ["id", "project", "version", "filters", "aggregation", "split_seed", "val_fraction", "train_rows",
                  "val_rows", "sha256", "parquet_sha256", "stats", "warnings", "created_by", "created_at",
                  "downloads"]

    def get_warnings(self, snapshot) -> list[str]:
        return (snapshot.stats or {}).get("warnings", [])

    def get_downloads(self, snapshot) -> dict[str, str]:
        request = self.context.get("request")
        urls = {}
        for fmt in DOWNLOAD_FORMATS:
            url = reverse("api-snapshot-download", kwargs={"project_id": snapshot.project_id,
                                                            "snapshot_id": snapshot.pk, "fmt": fmt})
            urls[fmt] = request.build_absolute_uri(url) if request else url
        return urls


class SnapshotVerifyOut(serializers.Serializer):
    ok = serializers.BooleanField()
    sha256 = serializers.CharField()
    actual_sha256 = serializers.CharField(allow_null=True)
    parquet_ok = serializers.BooleanField(allow_null=True)
    actual_parquet_sha256 = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class SnapshotDownloadIn(serializers.Serializer):
    split = serializers.ChoiceField(
        choices=exports.SPLITS, required=False,
        help_text="train, val or all (the default). Not for jsonl and parquet: the raw artifact is the whole "
                  "snapshot, as hashed; it is refused there with 400 (its rows carry a split column).")
    criterion = serializers.CharField(
        required=False, max_length=64,
        help_text='Export only this criterion ("overall" is the overall preference). Required for trl, trl-chat '
                  'and hh when the snapshot holds more than one criterion; not for jsonl and parquet.')


class _SnapshotApi(ProjectScopedMixin, GenericAPIView):
    read_roles = DATA_ROLES
    write_roles = DATA_ROLES
    serializer_class = SnapshotOut

    def get_snapshot(self) -> DatasetSnapshot:
        try:
            return snapshot_get(project=self.get_project(), snapshot_id=self.kwargs["snapshot_id"])
        except DatasetSnapshot.DoesNotExist:
            raise exceptions.NotFound("No such snapshot in this project.")


class SnapshotListCreateApi(_SnapshotApi):
    """Dataset snapshots of the project: list them, or cut the next version (ML engineers and project admins).

    A new version freezes the pairs selected by the filters under an aggregation rule, split by prompt.
    """

    pagination_class = None  # a project has tens of snapshots, not millions

    @extend_schema(responses=SnapshotOut(many=True), summary="Snapshots of the project, newest first")
    def get(self, request, project_id):
        snapshots = snapshot_list(project=self.get_project())
        return Response(SnapshotOut(snapshots, many=True, context={"request": request}).data)

    @extend_schema(request=SnapshotCreateIn, responses={201: SnapshotOut},
                   summary="Cut a new snapshot version (runs synchronously)")
    def post(self, request, project_id):
        data = SnapshotCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            snapshot = snapshot_cut(
                project=self.get_project(), criteria=v["criteria"], sources=v["sources"], since=v.get("since"),
                until=v.get("until"), batch_ids=v["batches"], min_agreement=v.get("min_agreement"),
                exclude_gold=v["exclude_gold"], exclude_annotators=v["exclude_annotators"],
                aggregation=v["aggregation"], seed=v["seed"], val_fraction=v["val_fraction"], user=request.user)
        except SnapshotError as error:
            raise InvalidInput(str(error))
        return Response(SnapshotOut(snapshot, context={"request": request}).data, status=status.HTTP_201_CREATED)


class SnapshotDetailApi(_SnapshotApi):
    """One snapshot: filters, counts, sha256 and download links (ML engineers and project admins)."""

    @extend_schema(responses=SnapshotOut, summary="One snapshot")
    def get(self, request, project_id, snapshot_id):
        return Response(SnapshotOut(self.get_snapshot(), context={"request": request}).data)


class SnapshotVerifyApi(_SnapshotApi):
    """Integrity check: re-hashes the stored artifacts (ML engineers and project admins)."""

    serializer_class = SnapshotVerifyOut

    @extend_schema(request=None, responses=SnapshotVerifyOut,
                   summary="Re-hash the stored artifacts and compare with the recorded sha256")
    def post(self, request, project_id, snapshot_id):
        report = snapshot_verify(snapshot=self.get_snapshot())
        return Response(SnapshotVerifyOut(report).data)


class SnapshotDownloadApi(_SnapshotApi):
    """Streams a snapshot as trl, trl-chat, hh, kway or full JSON lines, or the raw jsonl/parquet artifact.

    ML engineers and project admins only.
    """

    @extend_schema(
        parameters=[OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(DOWNLOAD_FORMATS),
                                     description="An export format, or the raw artifact (jsonl, parquet)."),
                    SnapshotDownloadIn],
        responses={(200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.BINARY),
                   (200, "application/vnd.apache.parquet"): OpenApiResponse(OpenApiTypes.BINARY)},
        summary="Download a snapshot in an export format (streamed)")
    def get(self, request, project_id, snapshot_id, fmt):
        if fmt not in DOWNLOAD_FORMATS:
            raise exceptions.NotFound(f"Unknown format {fmt!r}; use {', '.join(DOWNLOAD_FORMATS)}.")
        query = SnapshotDownloadIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        split, criterion = query.validated_data.get("split"), query.validated_data.get("criterion")
        snapshot = self.get_snapshot()
        try:
            if fmt in exports.RAW_FORMATS:
                response = exports.artifact_response(snapshot=snapshot, raw=fmt, split=split or "all",
                                                     criterion=criterion)
            else:
                response = exports.export_response(snapshot=snapshot, fmt=fmt, split=split or "all",
                                                   criterion=criterion)
            audit_record(action="snapshot.downloaded", user=request.user, project=snapshot.project, target=snapshot,
                         detail={"format": fmt, "split": split or "all", "criterion": criterion, "via": "api"})
            return response
        except exports.ArtifactChanged as error:
            raise Conflict(str(error))
        except exports.ExportError as error:
            raise InvalidInput(str(error))
