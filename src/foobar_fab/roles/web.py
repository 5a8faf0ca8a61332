"""The web role: Nginx serving www.foobar.com, proxying to the application, naming the node."""

from __future__ import annotations

from .. import write_timeouts
from ..constants import HTTP_PORT, SERVED_BY, STAGING
from ..resources.files import Absent, ConfigFile
from ..resources.packages import Packages
from ..resources.services import Service
from ..steps import Step
from ..templates import render
from ..topology import Lab, NodeSpec
from .app import endpoint
from .record import Port, Role, RoleInputs, Rule, problems_where

PACKAGES = ("nginx",)

SITE = "/etc/nginx/conf.d/foobar.conf"
RELOAD = "systemctl reload-or-restart nginx"
#: Check the staged site alone, inside a minimal nginx.conf, before it goes live.
VALIDATE = (
    "printf 'events {{}}\\nhttp {{\\n include /etc/nginx/mime.types;\\n include {path};\\n}}\\n' "
    f"> {STAGING}/nginx-test.conf && nginx -t -q -c {STAGING}/nginx-test.conf"
)


def upstreams(lab: Lab, node: NodeSpec) -> list[str]:
    """host:port of each application server this web server proxies to, where that server listens (its own
    over loopback unless other web servers use it too)."""
    return [endpoint(lab, app) for app in lab.upstream_apps(node)]


def proxies_elsewhere(lab: Lab, node: NodeSpec) -> bool:
    """Whether this web server sends requests to an application server on another node (over the network)."""
    return any(app != node for app in lab.upstream_apps(node))


def config(inputs: RoleInputs) -> str:
    """The site's Nginx config: names, the application servers, the header naming the node."""
    remote = proxies_elsewhere(inputs.lab, inputs.node)
    return render(
        "nginx/foobar.conf.j2",
        node=inputs.node,
        domain=inputs.lab.domain,
        site=inputs.lab.site,
        http_port=HTTP_PORT,
        served_by=SERVED_BY,
        upstreams=upstreams(inputs.lab, inputs.node),
        remote=remote,
        connect_timeout="300ms" if remote else "1s",  # a LAN connection takes milliseconds
        read_timeout_ms=write_timeouts.nginx_read_ms(inputs.lab),
    )


def steps(inputs: RoleInputs) -> list[Step]:
    """Nginx with the site of www.foobar.com instead of Debian's default one."""
    return [
        Packages(PACKAGES),
        Absent("/etc/nginx/sites-enabled/default", on_change=(RELOAD,)),
        ConfigFile(SITE, config(inputs), validate=VALIDATE, on_change=(RELOAD,)),
        Service("nginx"),
    ]


def ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    return (Port(HTTP_PORT, "nginx", "the site, for the load balancers", "any", tuple(b.name for b in lab.balancers)),)


ROLE = Role(
    name="web",
    label=f"Nginx :{HTTP_PORT}",
    packages=PACKAGES,
    wave=2,
    steps=steps,
    ports=ports,
    rules=(
        Rule(
            "a web server needs an application server to proxy to",
            lambda lab: problems_where(lab.web_nodes, lambda n: None if lab.upstream_apps(n) else "no node has the role app"),
        ),
    ),
)
