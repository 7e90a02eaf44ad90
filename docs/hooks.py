"""The site's home is the README: one front door for the repository and the site.

MkDocs reads only docs/, so the README comes in as the generated page index.md. Links
are written to work where the Markdown is read in the repository; here they are
rewritten to the site's pages: from the README, `docs/lake.md#…` becomes `lake.md#…`;
from a page, `../README.md#…` becomes `index.md#…`. A link to anything else outside
docs/ is left as it is, and MkDocs reports it as not found.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

README = "README.md"
HOME = "index.md"
LINK = re.compile(r"(\]\()([^)\s]+)(\))")  # an inline link's or image's target


def rewrite_links(markdown: str, page_dir: str, site_dir: str, docs_dir: str) -> str:
    """`markdown`'s relative links, written from `page_dir` in the project's folder,
    made relative to `site_dir`, where the page is in the site built from `docs_dir`."""

    def site_target(match: re.Match[str]) -> str:
        target = match.group(2)
        path, hash_, anchor = target.partition("#")
        if not path or re.match(r"[a-z][a-z0-9+.-]*:", path):  # an anchor here, or a URL
            return match.group(0)
        in_project = posixpath.normpath(posixpath.join(page_dir, path))
        if in_project == README:
            site_path = HOME
        elif in_project.startswith(docs_dir + "/"):
            site_path = in_project.removeprefix(docs_dir + "/")
        else:
            return match.group(0)
        relative = posixpath.relpath(site_path, site_dir)
        return f"{match.group(1)}{relative}{hash_}{anchor}{match.group(3)}"

    return LINK.sub(site_target, markdown)


def _docs_dir(config) -> str:
    project = Path(config.config_file_path).parent
    return Path(config.docs_dir).relative_to(project).as_posix()


def on_files(files, config):
    project = Path(config.config_file_path).parent
    readme = (project / README).read_text(encoding="utf-8")
    files.append(File.generated(config, HOME, content=readme))
    return files


def on_page_markdown(markdown, page, config, files):
    docs_dir = _docs_dir(config)
    site_dir = posixpath.dirname(page.file.src_uri) or "."
    page_dir = "." if page.file.src_uri == HOME else posixpath.join(docs_dir, site_dir)
    return rewrite_links(markdown, posixpath.normpath(page_dir), site_dir, docs_dir)
