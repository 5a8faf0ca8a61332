"""Config files rendered from the Jinja2 templates in configs/, strictly: a missing value is an error."""

from __future__ import annotations

from typing import Any

import jinja2

from .errors import LabError
from .settings import PROJECT_ROOT

TEMPLATE_DIR = PROJECT_ROOT / "configs"


class TemplateError(LabError, ValueError):
    """A template cannot be rendered; the message names the template and the missing value."""


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


def render(name: str, **context: Any) -> str:
    """Render configs/<name> with the given values."""
    try:
        return _environment.get_template(name).render(**context)
    except jinja2.UndefinedError as err:
        raise TemplateError(f"configs/{name}: {err.message}: add it to the template's values") from None
    except jinja2.TemplateNotFound:
        raise TemplateError(f"configs/{name}: no such template") from None
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"configs/{name}: line {err.lineno}: {err.message}") from None
