"""The web chat: bring the index up to date with the letters folder, then serve it.

    python app.py [--host 127.0.0.1] [--port 7860] [--corpus corpus] [--index index]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant.config import default_corpus_dir, default_index_dir
from assistant.errors import AssistantError
from assistant.server import launch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Serve the inspection letters assistant in the browser.")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--corpus", type=Path, default=None, help="letters folder (default corpus/)")
    ap.add_argument("--index", type=Path, default=None, help="index folder (default index/)")
    ap.add_argument("--model", default=None, help="embedding model name or folder")
    ap.add_argument("--max-upload-mb", type=int, default=50)
    ap.add_argument("-v", "--verbose", action="store_true", help="show diagnostic messages and model loading")
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        launch(corpus=args.corpus or default_corpus_dir(), index=args.index or default_index_dir(),
               host=args.host, port=args.port, model=args.model, max_upload_mb=args.max_upload_mb)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
