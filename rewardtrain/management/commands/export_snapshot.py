"""`manage.py export_snapshot`: writes a snapshot in an export format (snapshots.exports)."""
import os
import re
import sys

from django.core.management.base import BaseCommand, CommandError

from annotation.management.base import project_or_error
from annotation.parsing import ascii_int
from annotation.services.audit import audit_record
from rewardtrain.models import DatasetSnapshot
from rewardtrain.snapshots import exports
from rewardtrain.snapshots.services import snapshot_get, snapshot_list


def _stdout_closed() -> None:
    """Point standard output at /dev/null, so flushing it at exit raises no second BrokenPipeError
    (Python's documented recipe for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests): nothing will flush it
        pass


class Command(BaseCommand):
    help = ("Writes a snapshot in an export format as JSON lines: trl (prompt/chosen/rejected/margin), "
            "trl-chat (message lists), hh (Human/Assistant transcripts), kway (rankings), full (provenance).")

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Our --version (a snapshot version) replaces Django's --version (the Django version).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("snapshot", nargs="*", metavar="SNAPSHOT",
                            help='PROJECT vN (the version shown on the snapshot page, e.g. "My project" v8), '
                                 'or the global snapshot id (the "id 42" next to it)')
        parser.add_argument("--project", help="project name or id (with --version)")
        parser.add_argument("--version", type=int, dest="snapshot_version", metavar="N",
                            help="snapshot version within --project")
        parser.add_argument("--format", required=True, choices=exports.FORMATS, dest="fmt")
        parser.add_argument("--out", required=True, help='output file, or "-" for standard output')
        parser.add_argument("--split", default="all", choices=exports.SPLITS)
        parser.add_argument("--criterion", metavar="KEY",
                            help='only this criterion ("overall" is the overall preference); required for trl, '
                                 'trl-chat and hh when the snapshot holds more than one criterion')

    def handle(self, *args, snapshot, project, snapshot_version, fmt, out, split, criterion, **options):
        snapshot = self._snapshot(refs=snapshot, project=project, version=snapshot_version)
        export = {"snapshot": snapshot, "fmt": fmt, "split": split, "criterion": criterion}
        try:
            exports.export_lines(**export)  # checks the input and the artifact before anything is written
            audit_record(action="snapshot.exported", project=snapshot.project, target=snapshot,
                         detail={"format": fmt, "split": split, "criterion": criterion, "out": out, "via": "command"})
            if out == "-":
                try:
                    count = exports.export_to_file(**export, out=sys.stdout.buffer)
                    sys.stdout.flush()
                except BrokenPipeError:
                    _stdout_closed()  # the reader stopped early (`| head`): not an error, no traceback
                    return
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

    def _snapshot(self, *, refs: list[str], project: str | None, version: int | None):
        """PROJECT vN, --project P --version N (or --project P vN), or a bare global id."""
        usage = 'Name the snapshot as PROJECT vN (e.g. "My project" v8), --project P --version N, or its id.'
        if len(refs) == 2 and project is None:
            project, refs = refs[0], refs[1:]
        if len(refs) == 1 and (match := re.fullmatch(r"[vV](\d+)", refs[0].strip())):
            if version is not None and version != int(match[1]):
                raise CommandError(f"Two versions given (v{match[1]} and --version {version}). {usage}")
            version, refs = int(match[1]), []
        if version is not None:
            if refs or project is None:
                raise CommandError(f"A version is numbered within a project. {usage}")
            project_obj = project_or_error(project)
            try:
                return snapshot_get(project=project_obj, version=version)
            except DatasetSnapshot.DoesNotExist:
                versions = ", ".join(f"v{v}" for v in snapshot_list(project=project_obj).values_list("version", flat=True))
                raise CommandError(f"“{project_obj.name}” has no snapshot v{version} (it has: {versions or 'none'}).")
        if len(refs) != 1 or project is not None or ascii_int(refs[0]) is None:
            raise CommandError(usage)
        try:
            return snapshot_get(snapshot_id=ascii_int(refs[0]))
        except DatasetSnapshot.DoesNotExist:
            raise CommandError(f"No snapshot with id {refs[0]}. {usage}")
