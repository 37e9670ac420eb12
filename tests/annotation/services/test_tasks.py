"""services.tasks.task_create checks a task like the importer checks a file row (issue 14, item 9)."""
import pytest

from annotation.models import Prompt, Response, Task
from annotation.services.tasks import task_create
from tests import factories


@pytest.mark.parametrize("prompt, responses, kwargs, message", [
    ("Q?", ["only one"], {}, "responses: a pairwise project takes exactly 2 responses (got 1)"),
    ("Q?", ["a", "b", "c"], {}, "responses: a pairwise project takes exactly 2 responses (got 3)"),
    ("Q?", ["same", "same"], {}, "responses[1]: is the same text as responses[0]"),
    ("Q?", ["a", "  "], {}, "responses[1]: must not be empty"),
    ("Q?", ["a", {"model": "m"}], {}, "responses[1].text: must be a string, got null"),
    ("Q?", ["a", {"text": "b", "model": 7}], {}, "responses[1].model: must be a string, got a number"),
    ("", ["a", "b"], {}, "prompt: must not be empty"),
    (None, ["a", "b"], {}, "prompt: is required"),
    ([{"role": "robot", "content": "hi"}], ["a", "b"], {}, "prompt[0].role: must be one of"),
    ("Q\x00?", ["a", "b"], {}, "prompt: contains a NUL character"),
    ("Q?", "ab", {}, "responses: must be a list, got a string"),
    ("Q?", ["a", "b"], {"metadata": ["x"]}, "metadata: must be an object, got an array"),
    ("Q?", ["a", "b"], {"priority": float("nan")}, "priority: must be a finite number"),
    ("Q?", ["a", "b"], {"is_gold": True, "gold_ranking": [[999999], [999998]]},
     "gold_ranking: response 999999 is not part of this task"),
])
def test_bad_input_is_refused_with_the_importers_message_and_writes_nothing(project, prompt, responses, kwargs,
                                                                           message):
    with pytest.raises(ValueError) as failed:
        task_create(project=project, prompt=prompt, responses=responses, **kwargs)
    assert str(failed.value).startswith(message), str(failed.value)
    assert not Task.objects.exists() and not Prompt.objects.exists() and not Response.objects.exists()


def test_a_ranking_project_takes_two_to_nine_and_a_repeat_is_named(db):
    project = factories.ProjectFactory(mode="ranking")
    task = task_create(project=project, prompt=[{"role": "user", "content": "Hi"}],
                       responses=["a", {"text": "b", "model": "m2"}, "c"], external_id=12)
    assert task.external_id == "12" and task.slots.count() == 3 and task.prompt.messages[0]["content"] == "Hi"
    assert task.responses.get(text="b").source_model == "m2"
    with pytest.raises(ValueError, match="takes 2 to 9 responses"):
        task_create(project=project, prompt="Q", responses=[str(i) for i in range(10)])
    with pytest.raises(ValueError, match=f"already in the project as task {task.pk}"):
        task_create(project=project, prompt=[{"role": "user", "content": "Hi"}], responses=["a", "b", "c"])
    assert Task.objects.count() == 1


def test_a_gold_task_keeps_its_checked_answer(db):
    project = factories.ProjectFactory(mode="ranking")
    first = task_create(project=project, prompt="Gold?", responses=["right", "wrong", "meh"])
    right, wrong, _ = first.slots.order_by("position").values_list("response_id", flat=True)
    # Two of the same responses: a new task whose response ids are known already.
    gold = task_create(project=project, prompt="Gold?", responses=["wrong", "right"], is_gold=True,
                       gold_ranking=[[right], [wrong]])
    gold.refresh_from_db()
    assert gold.is_gold and gold.gold_ranking == [[right], [wrong]]
