"""The registry: promote, roll back, archive (each recorded), one active per project, zip downloads."""
import io
import zipfile

import pytest
from django.db import IntegrityError, transaction

from rewardtrain.models import ModelEvent, ModelVersion
from rewardtrain.registry import services
from rewardtrain.registry.services import RegistryError
from rewardtrain.training.storage import storage_upload_dir

Status = ModelVersion.Status


def versions(project, n):
    return [ModelVersion.objects.create(project=project, version=v, artifact_dir=f"models/x/{v}")
            for v in range(1, n + 1)]


def statuses(project):
    return dict(ModelVersion.objects.filter(project=project).values_list("version", "status"))


def test_promote_archives_the_previous_active_and_records_who(project, ml_engineer):
    v1, v2 = versions(project, 2)
    services.model_version_promote(model_version=v1, user=ml_engineer)
    services.model_version_promote(model_version=v2, user=ml_engineer)
    assert statuses(project) == {1: Status.ARCHIVED, 2: Status.ACTIVE}
    event = ModelEvent.objects.filter(action="promote").first()
    assert (event.model_version, event.previous_active, event.user) == (v2, v1, ml_engineer)
    with pytest.raises(RegistryError, match="already the active model"):
        services.model_version_promote(model_version=v2)
    assert ModelEvent.objects.count() == 2


def test_rollback_walks_back_one_promotion_at_a_time(project, ml_engineer):
    v1, v2, v3 = versions(project, 3)
    for model in (v1, v2, v3):
        services.model_version_promote(model_version=model)
    assert services.model_version_rollback(project=project, user=ml_engineer) == v2
    assert statuses(project) == {1: Status.ARCHIVED, 2: Status.ACTIVE, 3: Status.ARCHIVED}
    assert services.model_version_rollback(project=project) == v1
    assert statuses(project)[1] == Status.ACTIVE
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        services.model_version_rollback(project=project)
    event = ModelEvent.objects.filter(action="rollback").last()
    assert (event.model_version, event.previous_active, event.user) == (v2, v3, ml_engineer)


def test_rollback_without_an_active_model_changes_nothing(project):
    versions(project, 1)
    with pytest.raises(RegistryError, match="no active model"):
        services.model_version_rollback(project=project)
    assert not ModelEvent.objects.exists()


def test_archive_records_the_event_and_the_database_allows_one_active(project):
    v1, v2 = versions(project, 2)
    services.model_version_promote(model_version=v1)
    services.model_version_archive(model_version=v1)
    assert statuses(project) == {1: Status.ARCHIVED, 2: Status.CANDIDATE}
    assert ModelEvent.objects.filter(action="archive", previous_active=v1).exists()
    with pytest.raises(RegistryError, match="already archived"):
        services.model_version_archive(model_version=v1)
    ModelVersion.objects.filter(pk=v2.pk).update(status=Status.ACTIVE)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=v1.pk).update(status=Status.ACTIVE)


def test_a_downloaded_zip_loads_in_plain_transformers(project, tiny_bert, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    config = BertConfig.from_pretrained(tiny_bert, num_labels=1)
    original = AutoModelForSequenceClassification.from_config(config).eval()
    folder = tmp_path / "model"
    original.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    storage_upload_dir(local=str(folder), prefix="models/test/v1")
    model = ModelVersion.objects.create(project=project, version=1, artifact_dir="models/test/v1")

    chunks = list(services.model_version_zip_stream(model_version=model, chunk=4096))
    assert len(chunks) > 2  # produced piece by piece, not built whole first
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        archive.extractall(tmp_path / "unzipped")
    loaded_dir = tmp_path / "unzipped" / services.model_version_zip_name(model_version=model)
    loaded = AutoModelForSequenceClassification.from_pretrained(loaded_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(loaded_dir)
    batch = tokenizer(["the cat sits"], ["thanks"], return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(loaded(**batch).logits, original(**batch).logits)
