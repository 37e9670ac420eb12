"""Registered reward models for scoring tests: a tiny BERT trained to prefer "thanks" over "idiot"
(tests/rewardtrain/ml/conftest.py), uploaded to storage and registered the way a training run does."""
import pytest

from rewardtrain.models import ModelVersion
from rewardtrain.registry.services import model_version_promote
from rewardtrain.scoring.cache import cache_clear
from rewardtrain.training.storage import storage_upload_dir
from tests.rewardtrain.ml.conftest import minilm_tokenizer, tiny_bert, trained_bert  # noqa: F401


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache_clear()
    yield
    cache_clear()


def register(project, folder: str, *, active: bool = True) -> ModelVersion:
    version = (ModelVersion.objects.filter(project=project).count() or 0) + 1
    prefix = f"models/p{project.pk}/v{version}"
    storage_upload_dir(local=folder, prefix=prefix)
    model = ModelVersion.objects.create(project=project, version=version, artifact_dir=prefix)
    if active:
        model_version_promote(model_version=model)
        model.refresh_from_db()
    return model


@pytest.fixture
def scoring_model(project, trained_bert):
    return register(project, trained_bert["dir"])


@pytest.fixture(scope="session")
def criteria_bert(tmp_path_factory, tiny_bert):
    """A tiny model with two criterion heads (helpful, harmless), trained two steps: for the shape of the
    per-criterion answer, not for what it learned."""
    from rewardtrain.ml import TrainConfig, train
    from tests.rewardtrain.ml.conftest import synthetic_rows, write_jsonl

    root = tmp_path_factory.mktemp("criteria_bert")
    rows = [dict(row, criterion=("helpful", "harmless")[i % 2]) for i, row in enumerate(synthetic_rows(16, seed=4))]
    train(TrainConfig(data=write_jsonl(root / "train.jsonl", rows), out=str(root / "model"), model=tiny_bert,
                      max_steps=2, max_length=48, batch_tokens=512, criterion_heads=True, save_every=0))
    return str(root / "model")
