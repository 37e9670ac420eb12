import gzip
import io
import json

import pytest

from annotation.services.imports.common import ImportFailed
from annotation.services.imports.pairs import pairs_import
from annotation.services.imports.tasks import tasks_import
from annotation.models import Batch, PreferencePair, Prompt, Response, Task, TaskSlot
from tests.factories import jsonl

MODELS = (Batch, Prompt, Response, Task, TaskSlot, PreferencePair)


def counts():
    return {m.__name__: m.objects.count() for m in MODELS}


def task_rows(n, start=0):
    return [{"prompt": f"Question {i}?", "responses": [f"Answer A{i}", {"text": f"Answer B{i}", "model": "m2"}],
             "id": f"t{i}"} for i in range(start, start + n)]


def run_tasks(project, data: bytes, name="tasks.jsonl"):
    return tasks_import(project=project, fileobj=io.BytesIO(data), filename=name)


def test_tasks_import_creates_tasks_with_slots_and_counts_duplicates(project):
    result = run_tasks(project, jsonl(task_rows(3) + task_rows(1)))
    assert (result.created, result.duplicates, result.lines) == (3, 1, 4)
    task = Task.objects.get(external_id="t1")
    assert [s.response.text for s in task.slots.select_related("response")] == ["Answer A1", "Answer B1"]
    assert task.slots.get(position=1).response.source_model == "m2"
    again = run_tasks(project, jsonl(task_rows(3)))
    assert (again.created, again.duplicates) == (0, 3)
    assert Task.objects.count() == 3


def test_chat_prompt_is_stored_as_messages_and_transcript(project):
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Tell me a joke"}]
    run_tasks(project, jsonl([{"prompt": chat, "responses": ["A joke.", "No."]}]))
    prompt = Prompt.objects.get()
    assert prompt.messages == chat
    assert prompt.text == "Human: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a joke"


def test_gzip_file_is_read(project):
    result = run_tasks(project, gzip.compress(jsonl(task_rows(5))), name="tasks.jsonl.gz")
    assert result.created == 5


@pytest.mark.parametrize("line, message", [
    (b"{not json", "tasks.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
    (b'{"responses": ["a", "b"]}', "tasks.jsonl:2: prompt: is required"),
    (b'{"prompt": 7, "responses": ["a", "b"]}', "tasks.jsonl:2: prompt: must be a string or a list of chat messages, got a number"),
    (b'{"prompt": "q", "responses": "ab"}', "tasks.jsonl:2: responses: must be a list, got a string"),
    (b'{"prompt": "q", "responses": ["only one"]}', "tasks.jsonl:2: responses: a pairwise project takes exactly 2 responses (got 1)"),
    (b'{"prompt": "   ", "responses": ["a", "b"]}', "tasks.jsonl:2: prompt: must not be empty"),
    (b'{"prompt": "q", "responses": ["a", {"text": ""}]}', "tasks.jsonl:2: responses[1].text: must not be empty"),
    (b'{"prompt": "q", "responses": ["a", {"model": "x"}]}', "tasks.jsonl:2: responses[1].text: must be a string, got null"),
    (b'{"prompt": "q", "responses": ["a", "a"]}', "tasks.jsonl:2: responses[1]: is the same text as responses[0]"),
    (b'{"prompt": [{"role": "bot", "content": "x"}], "responses": ["a", "b"]}',
     "tasks.jsonl:2: prompt[0].role: must be one of assistant, system, user, got 'bot'"),
    (b'{"prompt": "q", "responses": ["a", "b"], "metadata": [1]}', "tasks.jsonl:2: metadata: must be an object, got an array"),
    (b'{"prompt": "q\\u0000", "responses": ["a", "b"]}', "tasks.jsonl:2: prompt: contains a NUL character"),
    (b'"just a string"', "tasks.jsonl:2: expected a JSON object, got a string"),
    (b'{"prompt": "q", "responses": ["caf\xe9", "b"]}', "tasks.jsonl:2: not valid UTF-8 (byte 0xe9 at byte 35)"),
])
def test_bad_line_is_reported_with_file_line_and_field_and_nothing_is_written(project, line, message):
    before = counts()
    data = jsonl(task_rows(1)) + line + b"\n" + jsonl(task_rows(1, start=1))
    with pytest.raises(ImportFailed) as exc:
        run_tasks(project, data)
    assert exc.value.errors == [message]
    assert counts() == before


def test_every_bad_line_is_listed_up_to_a_cap(project, settings):
    settings.VERDICT_IMPORT_MAX_ERRORS = 3
    data = jsonl(task_rows(2)) + b"{bad\n" * 5
    with pytest.raises(ImportFailed) as exc:
        run_tasks(project, data)
    assert [e.split(":")[1] for e in exc.value.errors[:3]] == ["3", "4", "5"]
    assert exc.value.errors[3] == "tasks.jsonl: … and 2 more bad lines not shown"


def test_error_after_written_batches_rolls_everything_back(project, settings):
    settings.VERDICT_IMPORT_BATCH_SIZE = 10
    before = counts()
    data = jsonl(task_rows(35)) + b'{"prompt": "q", "responses": []}\n'
    with pytest.raises(ImportFailed) as exc:
        run_tasks(project, data)
    assert exc.value.errors == ["tasks.jsonl:36: responses: a pairwise project takes exactly 2 responses (got 0)"]
    assert counts() == before


def test_huge_line_is_rejected_without_reading_it_whole(project, settings):
    settings.VERDICT_IMPORT_MAX_LINE_BYTES = 1024 * 1024
    huge = json.dumps({"prompt": "x" * (10 * 1024 * 1024), "responses": ["a", "b"]}).encode()
    before = counts()
    with pytest.raises(ImportFailed) as exc:
        run_tasks(project, jsonl(task_rows(1)) + huge + b"\n" + jsonl(task_rows(1, start=1)))
    assert exc.value.errors == [f"tasks.jsonl:2: line is {len(huge) + 1:,} bytes, over the 1,048,576-byte limit"]
    assert counts() == before


def test_cut_short_gzip_is_reported_and_nothing_is_written(project, settings):
    settings.VERDICT_IMPORT_BATCH_SIZE = 5
    blob = gzip.compress(jsonl(task_rows(200)))
    before = counts()
    with pytest.raises(ImportFailed) as exc:
        run_tasks(project, blob[: len(blob) // 2], name="tasks.jsonl.gz")
    assert len(exc.value.errors) == 1
    assert exc.value.errors[0].startswith("tasks.jsonl.gz: the gzip data is cut short or corrupt after line ")
    assert counts() == before


def test_empty_file_is_an_error(project):
    with pytest.raises(ImportFailed) as exc:
        run_tasks(project, b"\n\n")
    assert exc.value.errors == ["tasks.jsonl: the file holds no rows"]


def test_trl_pairs_import_with_margin_and_conversational_completions(project):
    rows = [
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon.", "margin": 2},
        {"prompt": [{"role": "user", "content": "2+2?"}],
         "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]},
    ]
    result = pairs_import(project=project, fileobj=io.BytesIO(jsonl(rows + rows[:1])), filename="p.jsonl")
    assert (result.created, result.duplicates) == (2, 1)
    pair = PreferencePair.objects.get(margin=2)
    assert (pair.chosen.text, pair.rejected.text, pair.source) == ("Paris.", "Lyon.", "imported")
    assert pair.provenance == {"file": "p.jsonl", "line": 1, "format": "trl"}


def test_trl_pairs_reject_bad_margin_and_identical_sides(project):
    rows = [{"prompt": "q", "chosen": "a", "rejected": "a"}, {"prompt": "q", "chosen": "a", "rejected": "b", "margin": "big"}]
    with pytest.raises(ImportFailed) as exc:
        pairs_import(project=project, fileobj=io.BytesIO(jsonl(rows)), filename="p.jsonl")
    assert exc.value.errors == ["p.jsonl:1: rejected: is the same text as chosen",
                                "p.jsonl:2: margin: must be a finite number, got 'big'"]
    assert PreferencePair.objects.count() == 0


def test_hh_transcripts_split_at_the_last_shared_assistant_turn(project):
    prefix = "\n\nHuman: How do I bake bread?\n\nAssistant: What kind?\n\nHuman: Sourdough.\n\nAssistant:"
    row = {"chosen": prefix + " Start with a starter.", "rejected": prefix + " Buy some instead."}
    pairs_import(project=project, fileobj=io.BytesIO(jsonl([row])), filename="hh.jsonl", fmt="hh")
    pair = PreferencePair.objects.select_related("prompt", "chosen", "rejected").get()
    assert pair.prompt.text == prefix
    assert pair.prompt.messages == [{"role": "user", "content": "How do I bake bread?"},
                                    {"role": "assistant", "content": "What kind?"},
                                    {"role": "user", "content": "Sourdough."}]
    assert (pair.chosen.text, pair.rejected.text) == ("Start with a starter.", "Buy some instead.")


def test_hh_without_shared_assistant_turn_is_an_error(project):
    row = {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: c\n\nAssistant: d"}
    with pytest.raises(ImportFailed) as exc:
        pairs_import(project=project, fileobj=io.BytesIO(jsonl([row])), filename="hh.jsonl", fmt="hh")
    assert exc.value.errors == ['hh.jsonl:1: chosen: chosen and rejected share no "Assistant:" turn to split the prompt at']


def test_a_pairwise_project_refuses_a_task_with_more_than_two_responses(project):
    before = counts()
    data = jsonl(task_rows(2)) + jsonl([{"prompt": "Which is best?", "responses": ["a", "b", "c", "d"]}])
    with pytest.raises(ImportFailed) as exc:
        run_tasks(project, data)
    assert exc.value.errors == ["tasks.jsonl:3: responses: a pairwise project takes exactly 2 responses (got 4)"]
    assert counts() == before


def test_a_ranking_project_takes_two_to_nine_responses(project):
    project.mode = "ranking"
    project.save()
    result = run_tasks(project, jsonl([{"prompt": "Rank these", "responses": ["a", "b", "c", "d"]},
                                       {"prompt": "And these", "responses": ["a", "b"]}]))
    assert result.created == 2
    with pytest.raises(ImportFailed) as exc:
        run_tasks(project, jsonl([{"prompt": "Too many", "responses": [str(i) for i in range(10)]}]))
    assert exc.value.errors == ["tasks.jsonl:1: responses: a ranking project takes 2 to 9 responses (got 10)"]
