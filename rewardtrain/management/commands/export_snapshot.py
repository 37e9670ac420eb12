"""`manage.py export_snapshot`: writes a snapshot in an export format (snapshots.exports)."""
import os
import sys

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
        parser.add_argument("--criterion", metavar="KEY",
                            help='only this criterion ("overall" is the overall preference); required for trl, '
                                 'trl-chat and hh when the snapshot holds more than one criterion')

    def handle(self, *args, snapshot_id, fmt, out, split, criterion, **options):
        try:
            snapshot = snapshot_get(snapshot_id=snapshot_id)
        except DatasetSnapshot.DoesNotExist:
            raise CommandError(f"No snapshot with id {snapshot_id}.")
        export = {"snapshot": snapshot, "fmt": fmt, "split": split, "criterion": criterion}
        try:
            exports.export_lines(**export)  # checks the input and the artifact before anything is written
            if out == "-":
                count = exports.export_to_file(**export, out=sys.stdout.buffer)
            else:
                with open(out, "wb") as handle:
                    try:
                        count = exports.export_to_file(**export, out=handle)
                    except exports.ArtifactChanged:
                        handle.close()
                        os.remove(out)
                        raise
        except exports.ArtifactChanged as exc:
            raise CommandError(f"{exc}{' The lines written above are not the snapshot.' if out == '-' else ''}")
        except exports.ExportError as exc:
            raise CommandError(str(exc))
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise CommandError(f"{out}: cannot write ({exc.strerror}).")
        report = self.stderr if out == "-" else self.stdout
        report.write(self.style.SUCCESS(
            f"Wrote {count} {fmt} line(s) ({split}{f', {criterion}' if criterion else ''}) of "
            f"{exports.snapshot_label(snapshot)} to {out}."))
