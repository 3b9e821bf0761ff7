"""Starting the web app: sync the index, check the network settings, launch Gradio."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

from .errors import AssistantError

log = logging.getLogger(__name__)

ENV_AUTH = "ASSISTANT_AUTH"
#: Requests that may wait for a free worker before new ones are turned away. A question takes
#: about 0.1-0.2 s of one core here (`assistant bench load` prints it) and two run at once, so
#: 64 waiting is a wait of a few seconds at worst: better to wait than to be told to retry.
QUEUE_SIZE = 64
#: While a question waits its turn the page says so in words ("busy, 2 ahead of you") where
#: Gradio would show "queue: 3/5": the request is waiting, not failing.
BUSY_JS = """<script>
(() => {
  const queued = /^\\s*queue:\\s*(\\d+)\\s*\\/\\s*\\d*/;
  const say = (node) => {
    const m = queued.exec(node.data || "");
    if (!m) return;
    const ahead = Number(m[1]) - 1;
    node.data = node.data.replace(queued, ahead > 0 ? `busy, ${ahead} ahead of you` : "busy, you are next");
  };
  const walk = (root) => {
    if (root.nodeType === Node.TEXT_NODE) return say(root);
    const it = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = it.nextNode(); n; n = it.nextNode()) say(n);
  };
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.type === "characterData") say(c.target);
      else c.addedNodes.forEach(walk);
    }
  }).observe(document.documentElement, {subtree: true, childList: true, characterData: true});
})();
</script>"""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_auth() -> list[tuple[str, str]] | None:
    """Credentials from $ASSISTANT_AUTH: "user:password", or a path to a file of such lines."""
    raw = os.environ.get(ENV_AUTH, "").strip()
    if not raw:
        return None
    lines = Path(raw).read_text(encoding="utf-8").splitlines() if Path(raw).is_file() else [raw]
    pairs = [tuple(line.split(":", 1)) for line in lines if ":" in line and line.strip()]
    if not pairs or any(not u or not p for u, p in pairs):
        raise AssistantError(f"{ENV_AUTH} must be user:password (or a file of such lines)")
    return pairs


def prepare(corpus: Path, index: Path, model: str | None = None, watch: bool = True, embedder=None):
    """Open (or create) the index and bring it up to date with the corpus, showing progress;
    then keep watching the folder so letters dropped into it are indexed. An index written by
    an older version is brought up to date first, and an incomplete one repaired (nothing is
    embedded again that need not be)."""
    from .engine import Assistant
    from .indexing import layout_outdated, needs_repair, sync

    if corpus.is_dir() and (layout_outdated(index) or needs_repair(index)):
        from .embedding import load_embedder

        embedder = embedder or load_embedder(model)
        print(sync(corpus, index, embedder, progress=True).summary(), flush=True)
    assistant = Assistant.open(index, model=model, embedder=embedder, allow_empty=True)
    if corpus.is_dir() and any(corpus.iterdir()):
        report = assistant.sync(corpus, progress=True)
        print(report.summary(), flush=True)
    else:
        corpus.mkdir(parents=True, exist_ok=True)
        print(f"No letters in {corpus}/ yet: add .pdf or .txt letters there or in the app's Letters tab.", flush=True)
    if watch:
        from .watch import keep_in_sync

        keep_in_sync(assistant, corpus)
    return assistant


def launch(corpus: Path, index: Path, host: str = "127.0.0.1", port: int = 7860, model: str | None = None,
           max_upload_mb: int = 50, block: bool = True):
    """Serve the app. Anywhere but this computer needs credentials ($ASSISTANT_AUTH)."""
    auth = read_auth()
    if not is_loopback(host):
        if not auth:
            raise AssistantError(
                f"listening on {host} would let other computers read the letters; set {ENV_AUTH}=user:password "
                "(or a file of such lines) to require a login, or use --host 127.0.0.1")
        print(f"warning: serving on {host}:{port} to the network, behind a login; use a trusted network",
              flush=True)
    assistant = prepare(Path(corpus), Path(index), model)
    return serve(assistant, Path(corpus), host=host, port=port, auth=auth, max_upload_mb=max_upload_mb,
                 block=block)


def serve(assistant, corpus: Path, *, host: str = "127.0.0.1", port: int = 7860, auth=None,
          max_upload_mb: int = 50, block: bool = True):
    """Launch the Gradio app for an open assistant. With ``block=False`` returns the running app
    (its address is ``app.local_url``; stop it with ``app.close()``)."""
    from .webapp import CSS, JS, build_app

    app = build_app(assistant, Path(corpus), max_upload_mb=max_upload_mb)
    app.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)
    app.launch(
        server_name=host, server_port=port, share=False, auth=auth, max_file_size=f"{max_upload_mb}mb",
        enable_monitoring=False, show_error=False, css=CSS, js=JS, prevent_thread_lock=True, quiet=True,
        footer_links=["api"], allowed_paths=[], mcp_server=False, head=BUSY_JS,
    )
    # quiet=True: Gradio's own lines include a hint about public share links, which are never made
    print(f"Open {app.local_url} in a browser (Ctrl-C to stop).", flush=True)
    if block:
        app.block_thread()
    return app
