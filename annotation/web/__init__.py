"""The annotation app's htmx pages: projects.py (home, overview, imports), workspace.py (annotating),
gold.py (admins' gold pages), forms.py (the workspace form), urls.py."""
