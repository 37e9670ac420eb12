import pytest

from annotation.services.projects import rubric_create


@pytest.mark.parametrize("key", ["overall", "OVERALL", "*", " "])
def test_rubric_create_refuses_keys_that_filters_read_as_something_else(project, key):
    with pytest.raises(ValueError, match="reserved|must not be empty"):
        rubric_create(project=project, name="R", criteria=[{"key": "helpfulness"}, {"key": key}])
    assert not project.rubrics.exists()


@pytest.mark.parametrize("changes, message", [
    ({"instructions": "bad \ud800"}, "instructions: must be valid Unicode"),
    ({"name": "nul\x00"}, "name: must not contain NUL characters."),
    ({"overlap": True}, "overlap: must be a whole number"),
    ({"strength_scale": ["a", "a"]}, "strength_scale: labels must differ"),
    ({"mode": "triples"}, "mode: must be one of pairwise, ranking."),
])
def test_project_update_refuses_what_the_database_or_the_rules_would_not_take(project, changes, message):
    from annotation.services.projects import SettingsInvalid, project_update

    with pytest.raises(SettingsInvalid, match=message.replace(".", r"\.")):
        project_update(project=project, changes={"lease_seconds": 900, **changes})
    project.refresh_from_db()
    assert project.lease_seconds == 600


def test_a_larger_overlap_lifts_the_maximum_with_it(project):
    from annotation.services.projects import project_update

    project = project_update(project=project, changes={"overlap": 7})
    assert (project.overlap, project.max_overlap) == (7, 7)
