"""The production entrypoint: uvicorn's command line, started faster.

`python3 -m app.serve app.main:app [OPTIONS]` takes uvicorn's options and its
UVICORN_* environment variables (it is uvicorn's own `main`); what differs is the
start: uvicorn and the app are imported first with Python's cyclic garbage collector
off, and what they made is then frozen out of its reach. Importing uvicorn, FastAPI
and pydantic makes some 37,000 objects the collector tracks, nearly all of which live
as long as the process; with it on, it runs about 90 times while they are made and
frees a few hundred (about 20 ms of CPU of a 0.2 s start: docs/benchmarks.md,
Kubernetes play).
"""
from __future__ import annotations

import gc
import sys

APP = "app.main:app"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    gc.disable()
    try:
        from uvicorn.main import main as uvicorn_main

        if APP in args:
            import app.main  # noqa: F401  (uvicorn then finds it in sys.modules)
    finally:
        gc.freeze()
        gc.enable()
    uvicorn_main(args=args, prog_name="uvicorn")


if __name__ == "__main__":
    main()
