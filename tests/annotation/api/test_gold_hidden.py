"""Gold stays hidden from annotators: no API answer or page tells them which tasks were gold."""
from tests import factories
from tests.annotation.api.test_resources import client_for


def test_annotators_never_see_gold_facts_and_data_roles_do(client, project, annotator, ml_engineer):
    project.gold_rate = 0.2
    project.save()
    gold = factories.task(project, is_gold=True, gold_ranking=[[1], [2]])
    judgement = factories.judgement(gold, annotator, gold_correct=True)
    own = client_for(annotator)
    listed = own.get(f"/api/v1/projects/{project.pk}/judgements/").json()["results"]
    assert [j["gold_correct"] for j in listed] == [None]
    assert own.get(f"/api/v1/projects/{project.pk}/judgements/{judgement.pk}/").json()["gold_correct"] is None
    assert own.get(f"/api/v1/projects/{project.pk}/").json()["gold_rate"] is None
    assert own.get("/api/v1/projects/").json()["results"][0]["gold_rate"] is None
    client.force_login(annotator)
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert "gold" not in page.lower()

    data = client_for(ml_engineer)
    assert data.get(f"/api/v1/projects/{project.pk}/judgements/{judgement.pk}/").json()["gold_correct"] is True
    assert data.get(f"/api/v1/projects/{project.pk}/").json()["gold_rate"] == 0.2
