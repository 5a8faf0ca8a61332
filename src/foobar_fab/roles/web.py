"""The web role: Nginx serving www.foobar.com, proxying to the application, naming the node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import write_timeouts
from ..constants import BALANCER_CA, HEALTH_PATH, HSTS_MAX_AGE, HTTP_PORT, HTTPS_PORT, SERVED_BY, STAGING
from ..expect import eventually, expect
from ..pki import Certificate, web_certificate
from ..resources.files import Absent, ConfigFile
from ..resources.packages import Packages
from ..resources.services import Service
from ..steps import Step
from ..templates import render
from ..topology import Lab, NodeSpec
from .app import endpoint
from .record import NodeCheck, Port, Role, RoleInputs, Rule, problems_where

if TYPE_CHECKING:
    from ..observe.view import LabView

PACKAGES = ("nginx",)

SITE = "/etc/nginx/conf.d/foobar.conf"
TLS_DIR = "/etc/nginx/tls"  # where the load balancer re-encrypts or passes TLS through: Nginx's certificate and key
#: The key, then the certificate chain, in one file (both of Nginx's directives name it): a new certificate and
#: its new key go live in one step, never a reload with one of them old.
CERTIFICATE = f"{TLS_DIR}/server.pem"
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


def serves_tls(lab: Lab) -> bool:
    """Whether the web servers speak TLS to the load balancer (it re-encrypts, or passes the clients' TLS through)."""
    return lab.has("https") and lab.tls_to_servers != "terminate"


def certificate(inputs: RoleInputs) -> Certificate | None:
    """The certificate Nginx serves: its own where the load balancer re-encrypts, the site's where it passes TLS
    through, none where TLS ends at the load balancer."""
    if inputs.tls is None or not serves_tls(inputs.lab):
        return None
    name = web_certificate(inputs.node.name) if inputs.lab.tls_to_servers == "reencrypt" else "site"
    return inputs.tls.certificates[name]


def config(inputs: RoleInputs) -> str:
    """The site's Nginx config: names, the application servers, the header naming the node, TLS where the design asks."""
    remote = proxies_elsewhere(inputs.lab, inputs.node)
    return render(
        "nginx/foobar.conf.j2",
        node=inputs.node,
        domain=inputs.lab.domain,
        site=inputs.lab.site,
        tls=inputs.lab.tls_to_servers if serves_tls(inputs.lab) else "terminate",
        http_port=HTTP_PORT,
        https_port=HTTPS_PORT,
        certificate=CERTIFICATE,
        balancers=inputs.lab.balancers,
        hsts_max_age=HSTS_MAX_AGE,
        served_by=SERVED_BY,
        upstreams=upstreams(inputs.lab, inputs.node),
        remote=remote,
        connect_timeout="300ms" if remote else "1s",  # a LAN connection takes milliseconds
        read_timeout_ms=write_timeouts.nginx_read_ms(inputs.lab),
    )


def tls_files(inputs: RoleInputs) -> list[Step]:
    """Nginx's certificate and key (readable by root only), or none where it serves no TLS."""
    served = certificate(inputs)
    if served is None:
        return [Absent(TLS_DIR)]
    return [ConfigFile(CERTIFICATE, served.bundle, mode="0600", on_change=(RELOAD,))]


def steps(inputs: RoleInputs) -> list[Step]:
    """Nginx with the site of www.foobar.com instead of Debian's default one; its TLS files in place before a
    config that names them (and removed after one that no longer does)."""
    files = tls_files(inputs)
    before, after = (files, []) if serves_tls(inputs.lab) else ([], files)
    return [
        Packages(PACKAGES),
        Absent("/etc/nginx/sites-enabled/default", on_change=(RELOAD,)),
        *before,
        ConfigFile(SITE, config(inputs), validate=VALIDATE, on_change=(RELOAD,)),
        *after,
        Service("nginx"),
    ]


def ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    balancers = tuple(b.name for b in lab.balancers)
    if serves_tls(lab):
        return (Port(HTTPS_PORT, "nginx", "the site over TLS, for the load balancers", "any", balancers),)
    return (Port(HTTP_PORT, "nginx", "the site, for the load balancers", "any", balancers),)


def tls_served(live: LabView, node: NodeSpec) -> str:
    """Nginx answers the health page over TLS on 443 with a certificate of the lab's CA for the name the load
    balancer checks (this server's own, or the site's), asked from a load balancer: the only node let in."""
    lab = live.lab
    balancer = lab.balancers[0]
    name = node.name if lab.tls_to_servers == "reencrypt" else lab.domain
    proxy = " --haproxy-protocol" if lab.passes_tls_through else ""  # Nginx wants a PROXY header first
    curl = (
        f"curl -sS -v -o /dev/null -w 'HTTP %{{http_version}} %{{http_code}}\\n' --max-time 3 --cacert {BALANCER_CA}{proxy} "
        f"--resolve {name}:{HTTPS_PORT}:{node.address} https://{name}{HEALTH_PATH} 2>&1 | grep -E '^HTTP |SSL connection using|curl: '"
    )

    def probe() -> str:
        lines = live.shells.run(balancer.name, curl, kind="check").stdout.splitlines()
        tls = next((line.split("using ")[1].split(" ")[0] for line in lines if "SSL connection using" in line), "no TLS")
        answer = next((line for line in lines if line.startswith("HTTP ")), "")
        errors = [line for line in lines if line.startswith("curl: ")]
        seen = f"from {balancer.name}: {tls}, {name}'s certificate {'refused: ' + errors[0] if errors else 'of the lab CA'}, {answer or 'no answer'}"
        return expect(tls.startswith("TLSv1.") and not errors and answer.endswith(" 200"), seen)

    return eventually(probe)


ROLE = Role(
    name="web",
    label=f"Nginx :{HTTP_PORT}",
    packages=PACKAGES,
    wave=2,
    steps=steps,
    ports=ports,
    checks=(NodeCheck("web.tls", "Nginx serves TLS on 443 with a certificate of the lab's CA", tls_served, when=serves_tls),),
    rules=(
        Rule(
            "a web server needs an application server to proxy to",
            lambda lab: problems_where(lab.web_nodes, lambda n: None if lab.upstream_apps(n) else "no node has the role app"),
        ),
    ),
)
