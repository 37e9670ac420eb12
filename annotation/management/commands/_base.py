"""Shared bits of the management commands: resolving a project and reporting import errors."""
from django.core.management.base import CommandError

from annotation.importers import ImportFailed, ImportResult
from annotation.models import Project
from annotation.selectors import project_by_ref


def get_project(ref: str) -> Project:
    try:
        return project_by_ref(ref=ref)
    except Project.DoesNotExist as exc:
        raise CommandError(str(exc))


def run_import(command, importer, *, path: str, **kwargs) -> ImportResult:
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
    command.stdout.write(command.style.SUCCESS(
        f"Imported {result.created} new, skipped {result.duplicates} duplicate(s) "
        f"from {result.lines} row(s) into batch {result.batch.pk}."))
    return result
