# Jupyter in dataenv/compose.yaml (mounted as /etc/jupyter/jupyter_notebook_config.py).
# The token is the compose secret jupyter_token, read here so that it never appears
# on a command line (ps) or in the environment.
from pathlib import Path

c = get_config()  # noqa: F821 (defined by Jupyter when it loads this file)
c.NotebookApp.token = Path("/run/secrets/jupyter_token").read_text().strip()
c.NotebookApp.ip = "0.0.0.0"
c.NotebookApp.port = 8888
c.NotebookApp.open_browser = False
c.NotebookApp.notebook_dir = "/workspace"
