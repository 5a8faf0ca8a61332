"""The web role: Nginx serving www.foobar.com, proxying to the application, naming the node."""

from __future__ import annotations

from ..resources.files import Absent, ConfigFile
from ..resources.packages import Packages
from ..resources.services import Service
from ..steps import Step
from ..templates import render
from .values import RoleInputs

PACKAGES = ("nginx",)

SITE = "/etc/nginx/conf.d/foobar.conf"
RELOAD = "systemctl reload-or-restart nginx"
#: Check the staged site alone, inside a minimal nginx.conf, before it goes live.
VALIDATE = (
    "printf 'events {{}}\\nhttp {{\\n include /etc/nginx/mime.types;\\n include {path};\\n}}\\n' "
    "> /var/tmp/foobar_fab/nginx-test.conf && nginx -t -q -c /var/tmp/foobar_fab/nginx-test.conf"
)


def steps(inputs: RoleInputs) -> list[Step]:
    """Nginx with the site of www.foobar.com instead of Debian's default one."""
    return [
        Packages(PACKAGES),
        Absent("/etc/nginx/sites-enabled/default", on_change=(RELOAD,)),
        ConfigFile(SITE, render("nginx/foobar.conf.j2", **inputs.template_values()), validate=VALIDATE, on_change=(RELOAD,)),
        Service("nginx"),
    ]
