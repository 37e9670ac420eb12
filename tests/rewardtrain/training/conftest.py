"""Projects with learnable preference data, snapshots of them, and tiny configs that train in seconds."""
import pytest

from rewardtrain.snapshots.filters import filters_build
from rewardtrain.snapshots.services import snapshot_create
from tests import factories
from tests.rewardtrain.ml.conftest import minilm_tokenizer, synthetic_rows, tiny_bert  # noqa: F401


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def learnable_project(project, n: int = 40, seed: int = 0):
    """Imported pairs whose chosen side says "thanks" and rejected side says "idiot", plus two tasks
    judged by two annotators (one agreeing, one split), so some rows have overlapping votes."""
    for i, row in enumerate(synthetic_rows(n, seed=seed)):
        factories.imported_pair(project, prompt=f"{row['prompt']} #{i}", chosen=row["chosen"], rejected=row["rejected"])
    first, second = factories.member(project, "annotator"), factories.member(project, "annotator")
    for prefer_second in (0, 1):
        judged = factories.judged_pair(project, first)
        factories.judged_pair(project, second, task=judged.task, prefer=prefer_second)
    return project


def snapshot_of(project, val_fraction: float = 0.3, seed: int = 0):
    return snapshot_create(project=project, filters=filters_build(project=project), val_fraction=val_fraction,
                           seed=seed)


@pytest.fixture
def snapshot(project):
    return snapshot_of(learnable_project(project))


@pytest.fixture
def tiny_config(tiny_bert):
    return {"model": tiny_bert, "max_length": 64, "batch_tokens": 256, "epochs": 1.0, "lr": 3e-3, "save_every": 3}


@pytest.fixture
def quick_config(tiny_config):
    """Two steps: for tests about orchestration, not about what the model learns."""
    return {**tiny_config, "max_steps": 2}
