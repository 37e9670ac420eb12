import pytest

from tests import factories


@pytest.fixture
def project(db):
    return factories.ProjectFactory()


@pytest.fixture
def annotator(project):
    return factories.member(project, "annotator")


@pytest.fixture
def project_admin(project):
    return factories.member(project, "admin")


@pytest.fixture
def ml_engineer(project):
    return factories.member(project, "ml")
