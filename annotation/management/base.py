"""What the management commands of both apps share: resolving a project and running an import."""
from django.core.management.base import CommandError

from annotation.models import Project
from annotation.selectors.projects import project_by_ref
from annotation.services.imports.common import ImportFailed, ImportResult


def project_or_error(ref: str) -> Project:
    """The project named or numbered `ref`, or a CommandError saying there is none."""
    try:
        return project_by_ref(ref=ref)
    except Project.DoesNotExist as exc:
        raise CommandError(str(exc))


def import_run(command, importer, *, path: str, **kwargs) -> ImportResult:
    """Runs `importer` on the file at `path` and reports the result (or every problem) on the command."""
    try:
        with open(path, "rb") as fileobj:
            result = importer(fileobj=fileobj, filename=path, **kwargs)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file")
    except IsADirectoryError:
        raise CommandError(f"{path}: is a directory, not a file")
    except ImportFailed as exc:
        for line in exc.errors:
            command.stderr.write(line)
        raise CommandError(f"{path}: import failed with {len(exc.errors)} problem(s); nothing was written.")
    if result.batch is None:
        command.stdout.write(f"Nothing new: all {result.lines} row(s) are already in the project; no batch was created.")
    else:
        command.stdout.write(command.style.SUCCESS(
            f"Imported {result.created} new, skipped {result.duplicates} duplicate(s) "
            f"from {result.lines} row(s) into batch {result.batch.pk}."))
    if result.pii_summary:
        command.stdout.write(result.pii_summary)
    return result
