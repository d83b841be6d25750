"""Package data: templates of ``ocframe new-driver`` (see ocframe/scaffold.py)."""
