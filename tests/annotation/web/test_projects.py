from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import Task
from tests import factories


def upload(name, rows_or_bytes):
    data = rows_or_bytes if isinstance(rows_or_bytes, bytes) else factories.jsonl(rows_or_bytes)
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_login_page_and_redirect_for_anonymous(client, db):
    assert client.get(reverse("login")).status_code == 200
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_home_lists_only_my_projects(client, project, annotator):
    other = factories.ProjectFactory(name="Secret project")
    client.force_login(annotator)
    page = client.get(reverse("home")).content.decode()
    assert project.name in page
    assert other.name not in page


def test_non_member_gets_404_and_annotator_gets_403_on_import(client, project, annotator):
    outsider = factories.UserFactory()
    client.force_login(outsider)
    assert client.get(reverse("project-detail", args=[project.id])).status_code == 404
    client.force_login(annotator)
    assert client.get(reverse("project-detail", args=[project.id])).status_code == 200
    assert client.get(reverse("project-import", args=[project.id])).status_code == 403


def test_admin_uploads_tasks(client, project, project_admin):
    client.force_login(project_admin)
    rows = [{"prompt": "Q?", "responses": ["a", "b"]}, {"prompt": "R?", "responses": ["c", "d"]}]
    response = client.post(reverse("project-import", args=[project.id]),
                           {"kind": "tasks", "file": upload("batch.jsonl", rows)}, follow=True)
    assert "Imported 2 new row(s) from batch.jsonl" in response.content.decode()
    assert Task.objects.filter(project=project).count() == 2


def test_bad_upload_shows_every_error_escaped_and_writes_nothing(client, project, project_admin):
    client.force_login(project_admin)
    rows = [{"prompt": "Q?", "responses": ["a", "b"]}]
    data = upload("evil<script>.jsonl", rows).read() + b'{"prompt": "<b>x</b>", "responses": ["only"]}\n'
    response = client.post(reverse("project-import", args=[project.id]),
                           {"kind": "tasks", "file": upload("evil<script>.jsonl", data)})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was imported." in page
    assert "evil&lt;script&gt;.jsonl:2: responses: a pairwise project takes exactly 2 responses (got 1)" in page
    assert "<script>" not in page.split("</head>")[1].replace('<script src=', '')
    assert Task.objects.count() == 0


def test_admin_imports_hh_pairs_from_the_page(client, project, project_admin):
    client.force_login(project_admin)
    prefix = "\n\nHuman: hi\n\nAssistant:"
    rows = [{"chosen": prefix + " hello!", "rejected": prefix + " go away"}]
    response = client.post(reverse("project-import", args=[project.id]),
                           {"kind": "pairs-hh", "file": upload("hh.jsonl", rows)}, follow=True)
    assert "Imported 1 new row(s)" in response.content.decode()
    assert project.pairs.get().chosen.text == "hello!"


def test_forbidden_page_says_which_role_is_needed(client, project, annotator):
    client.force_login(annotator)
    response = client.get(reverse("project-import", args=[project.id]))
    assert response.status_code == 403
    assert f"This needs the Project admin role in project “{project.name}”." in response.content.decode()


def test_the_gold_rate_is_a_percent_everywhere_and_keeps_its_decimals(client, project, project_admin):
    client.force_login(project_admin)
    client.post(reverse("gold-tasks", args=[project.pk]), {"gold_rate_percent": "12.5"})
    gold_page = client.get(reverse("gold-tasks", args=[project.pk])).content.decode()
    assert 'value="12.5"' in gold_page  # not rounded to 12 on reload
    overview = client.get(reverse("project-detail", args=[project.pk])).content.decode()
    assert "gold rate 12.5%" in overview  # not 0.125


def test_a_file_of_only_duplicates_creates_no_empty_batch(client, project, project_admin):
    from annotation.models import Batch

    client.force_login(project_admin)
    rows = [{"prompt": "Q?", "responses": ["a", "b"]}]
    client.post(reverse("project-import", args=[project.id]), {"kind": "tasks", "file": upload("one.jsonl", rows)})
    response = client.post(reverse("project-import", args=[project.id]),
                           {"kind": "tasks", "file": upload("again.jsonl", rows)}, follow=True)
    assert "Nothing new in again.jsonl: all 1 row(s) are already in the project; no batch was created." in (
        response.content.decode())
    assert list(Batch.objects.filter(project=project).values_list("name", flat=True)) == ["one.jsonl"]
