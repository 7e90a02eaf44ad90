"""What the lake keeps of the web: each source's last answer (its validators, for
conditional requests) and the pages fetched, read again instead of the web when
fetch is redone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tasks.errors import DamagedLake
from tasks.lake.files import atomic_write, atomic_write_text, read_json
from tasks.lake.layout import LakeLayout

_FORGET_WEB_STATE = "delete it, and the next run asks every web source without validators"


class WebState:
    """The web sources' state and the landed pages of one lake root."""

    def __init__(self, layout: LakeLayout) -> None:
        self.layout = layout

    @property
    def sources_path(self) -> Path:
        """The validators (ETag, Last-Modified) of each web source's last answer."""
        return self.layout.web_dir / "sources.json"

    def sources(self) -> dict[str, dict[str, Any]]:
        """Each web source's last answer: validators, when, status (empty at first)."""
        path = self.sources_path
        state = read_json(path, lambda damaged: DamagedLake(f"{damaged}: {_FORGET_WEB_STATE}"))
        if state is None:
            return {}
        if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
            raise DamagedLake(f"{path} is not a JSON object of objects: {_FORGET_WEB_STATE}")
        return state

    def write_sources(self, state: dict[str, dict[str, Any]]) -> None:
        atomic_write_text(self.sources_path, json.dumps(state, indent=1, sort_keys=True))

    def _landing(self, key: str) -> Path:
        return self.layout.web_dir / "pages" / key[:2] / key

    def land(self, key: str, answer: dict[str, Any], body: bytes | None = None) -> None:
        """Keep what a web request gave (the answer's metadata, and the page's bytes
        when there is a page), so that fetch redone (a new version, a damaged raw
        file) reads it again from the lake instead of the web: the same rows, and
        no second request."""
        path = self._landing(key)
        if body is not None:
            atomic_write(path.with_suffix(".body"), body)
        atomic_write_text(path.with_suffix(".json"), json.dumps(answer, sort_keys=True))

    def landed(self, key: str) -> tuple[dict[str, Any], bytes | None] | None:
        """What `land` kept, when it is whole; else None."""
        path = self._landing(key)
        try:
            answer = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            if not isinstance(answer, dict):
                return None
            if "sha256" not in answer:
                return answer, None
            body = path.with_suffix(".body").read_bytes()
        except (OSError, ValueError):
            return None
        if answer["sha256"] != hashlib.sha256(body).hexdigest():
            return None
        return answer, body
