"""`manage.py export_snapshot`: writes a snapshot in an export format (snapshots.exports)."""
import sys

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from rewardtrain.models import DatasetSnapshot
from rewardtrain.snapshots import exports
from rewardtrain.snapshots.services import snapshot_get


class Command(BaseCommand):
    help = ("Writes a snapshot in an export format as JSON lines: trl (prompt/chosen/rejected/margin), "
            "trl-chat (message lists), hh (Human/Assistant transcripts), kway (rankings), full (provenance).")

    def add_arguments(self, parser):
        parser.add_argument("snapshot_id", type=int)
        parser.add_argument("--format", required=True, choices=exports.FORMATS, dest="fmt")
        parser.add_argument("--out", required=True, help='output file, or "-" for standard output')
        parser.add_argument("--split", default="all", choices=exports.SPLITS)

    def handle(self, *args, snapshot_id, fmt, out, split, **options):
        try:
            snapshot = snapshot_get(snapshot_id=snapshot_id)
        except DatasetSnapshot.DoesNotExist:
            raise CommandError(f"No snapshot with id {snapshot_id}.")
        if not default_storage.exists(snapshot.artifact.name):
            raise CommandError(f"The artifact of snapshot {snapshot_id} is missing from storage.")
        try:
            if out == "-":
                count = exports.export_to_file(snapshot=snapshot, fmt=fmt, split=split, out=sys.stdout.buffer)
            else:
                with open(out, "wb") as handle:
                    count = exports.export_to_file(snapshot=snapshot, fmt=fmt, split=split, out=handle)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise CommandError(f"{out}: cannot write ({exc.strerror}).")
        report = self.stderr if out == "-" else self.stdout
        report.write(self.style.SUCCESS(
            f"Wrote {count} {fmt} line(s) ({split}) of “{snapshot.project.name}” snapshot v{snapshot.version} "
            f"to {out}."))
