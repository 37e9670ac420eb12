"""Folders in Django's storage (a local directory by default, object storage in production).

Checkpoints and model folders travel through here, so a run can resume on another host and the
registry never depends on a worker's disk.  Storage has no rename, so callers write each folder
under a fresh prefix and switch the database row to it once the upload is complete.
"""
import os
import posixpath

from django.core.files import File
from django.core.files.storage import default_storage


def storage_upload_dir(*, local: str, prefix: str) -> list[str]:
    """Uploads every file under ``local`` to ``prefix/<relative path>``; returns the stored names."""
    saved = []
    try:
        for root, _, files in os.walk(local):
            for name in sorted(files):
                path = os.path.join(root, name)
                relative = os.path.relpath(path, local).replace(os.sep, "/")
                with open(path, "rb") as handle:
                    saved.append(default_storage.save(posixpath.join(prefix, relative), File(handle)))
    except BaseException:
        for name in saved:
            default_storage.delete(name)
        raise
    return saved


def storage_files(*, prefix: str) -> list[str]:
    """Every stored file name under ``prefix``, recursively, sorted."""
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = [posixpath.join(prefix, f) for f in files]
    for sub in dirs:
        names += storage_files(prefix=posixpath.join(prefix, sub))
    return sorted(names)


def storage_download_dir(*, prefix: str, local: str) -> int:
    """Copies the stored folder ``prefix`` into ``local``; returns the number of files."""
    names = storage_files(prefix=prefix)
    for name in names:
        target = os.path.join(local, *posixpath.relpath(name, prefix).split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with default_storage.open(name, "rb") as src, open(target, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
    return len(names)


def storage_delete_dir(*, prefix: str) -> None:
    for name in storage_files(prefix=prefix):
        default_storage.delete(name)
