import pytest

from annotation.services.projects import rubric_create


@pytest.mark.parametrize("key", ["overall", "OVERALL", "*", " "])
def test_rubric_create_refuses_keys_that_filters_read_as_something_else(project, key):
    with pytest.raises(ValueError, match="reserved|must not be empty"):
        rubric_create(project=project, name="R", criteria=[{"key": "helpfulness"}, {"key": key}])
    assert not project.rubrics.exists()
