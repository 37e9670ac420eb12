import json

import pytest

from rewardtrain.ml.data import DataError, load_groups, load_score_rows

from .conftest import write_jsonl


def test_pair_and_ranking_rows_become_groups(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [
        {"prompt": "p", "chosen": "c", "rejected": "r", "margin": 2, "criterion": "helpful", "weight": 0.5, "id": 7},
        {"prompt": "p", "chosen": "x", "rejected": "y", "tie": True},
        {"prompt": "q", "ranking": [["a"], ["b", "c"], "d"], "weight": 3},
    ])
    pair, tie, group = load_groups(path)
    assert (pair.responses, pair.pairs, pair.margins, pair.criterion, pair.pair_weight) == (["c", "r"], [(0, 1)], [2.0], "helpful", 0.5)
    assert tie.ties == [True]
    # a > b = c > d: all C(4,2) = 6 comparisons, only b-c is a tie, each weighted 3/6 (InstructGPT).
    assert group.responses == ["a", "b", "c", "d"]
    assert len(group.pairs) == 6
    assert [p for p, t in zip(group.pairs, group.ties) if t] == [(1, 2)]
    assert group.pair_weight == pytest.approx(0.5)


@pytest.mark.parametrize(
    "lines, expected",
    [
        (['{"prompt": "p", "chosen": "c", "rejected": "r"}', '{"prompt": "p", "chosen": "c"'], ":2: invalid JSON"),
        (['{"prompt": "p", "chosen": "c", "rejected": "r"}', '{"prompt": "p", "chosen": "c"}'], ":2: field 'rejected': missing"),
        (['{"prompt": "p", "chosen": 3, "rejected": "r"}'], ":1: field 'chosen': expected a string"),
        (['{"prompt": "p", "chosen": "c", "rejected": "r", "weight": 0}'], ":1: field 'weight': must be > 0"),
        (['{"prompt": "p", "chosen": "c", "rejected": "r", "tie": "yes"}'], ":1: field 'tie': expected true or false"),
        (['{"prompt": "p", "ranking": ["only one"]}'], ":1: field 'ranking': needs at least two"),
        (['[1, 2]'], ":1: expected a JSON object"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, lines, expected):
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    with pytest.raises(DataError) as info:
        load_groups(path)
    assert str(info.value).startswith(path)
    assert expected in str(info.value)


def test_missing_and_empty_files_are_errors(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_groups(str(tmp_path / "nope.jsonl"))
    with pytest.raises(DataError, match="no rows"):
        load_groups(write_jsonl(tmp_path / "empty.jsonl", []))


def test_parquet_reads_like_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"prompt": "p", "chosen": "c", "rejected": "r", "margin": None}, {"prompt": "q", "chosen": "a", "rejected": "b", "margin": 1.5}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    from_parquet = load_groups(str(tmp_path / "d.parquet"))
    from_jsonl = load_groups(write_jsonl(tmp_path / "d.jsonl", rows))
    assert [(g.responses, g.margins) for g in from_parquet] == [(g.responses, g.margins) for g in from_jsonl]
    assert from_parquet[0].margins == [0.0]  # a null margin means "no margin", not an error


def test_score_rows_accept_every_response_shape(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [
        {"prompt": "p", "response": "a"},
        {"prompt": "p", "responses": ["a", "b"]},
        {"prompt": "p", "chosen": "a", "rejected": "b"},
        {"prompt": "p", "ranking": [["a", "b"], "c"]},
        {"prompt": "p", "responses": [{"id": 4, "text": "c"}, {"id": 5, "text": "d"}], "ranking": [["d"], ["c"]]},
    ])
    assert [r for _, _, r in load_score_rows(path)] == [["a"], ["a", "b"], ["a", "b"], ["a", "b", "c"], ["d", "c"]]
    with pytest.raises(DataError, match="field 'response'"):
        load_score_rows(write_jsonl(tmp_path / "bad.jsonl", [json.dumps({"prompt": "p"})]))
