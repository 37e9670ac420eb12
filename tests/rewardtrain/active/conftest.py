"""A project with a registered, active tiny reward model and a pool of tasks."""
import pytest

from annotation.models import Task
from annotation.services.tasks import task_create
from rewardtrain.models import ModelVersion
from rewardtrain.scoring.cache import cache_clear
from rewardtrain.training.storage import storage_upload_dir
from tests.rewardtrain.ml.conftest import minilm_tokenizer, tiny_bert, trained_bert  # noqa: F401

EASY = [("the cat sits under the tree", "the big dog runs thanks", "the big dog runs idiot"),
        ("a blue sky over the tree", "small cat thanks", "small cat idiot"),
        ("the red dog runs fast", "a tree sits thanks", "a tree sits idiot"),
        ("big blue tree", "the dog thanks", "the dog idiot"),
        ("slow cat over a dog", "runs fast thanks", "runs fast idiot"),
        ("the small sky", "a red cat thanks", "a red cat idiot")]
HARD = [("the cat runs over the dog", "the cat sits", "the dog sits"),
        ("a tree under the blue sky", "big tree", "small tree")]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache_clear()
    yield
    cache_clear()


def register_active_model(project, folder: str, version: int = 1, status=ModelVersion.Status.ACTIVE) -> ModelVersion:
    """A registered model version from a trained folder, as the runner leaves it."""
    prefix = f"models/project-{project.pk}/test-v{version}"
    storage_upload_dir(local=folder, prefix=prefix)
    return ModelVersion.objects.create(project=project, version=version, artifact_dir=prefix, status=status)


@pytest.fixture
def active_model(project, trained_bert):
    return register_active_model(project, trained_bert["dir"])


def pool_tasks(project, rows=EASY + HARD) -> list[Task]:
    tasks = [task_create(project=project, prompt=prompt, responses=list(responses)) for prompt, *responses in rows]
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(status=Task.Status.POOL)
    return tasks


@pytest.fixture
def pool(project):
    return pool_tasks(project)
