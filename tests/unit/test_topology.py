"""lab.yml loading: the default file, every way a file can be wrong, and relocate()/to_yaml()."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from foobar_fab.design import load
from foobar_fab.topology import Lab, TopologyError, relocate, to_yaml

from .conftest import DEFAULT_LAB_FILE

LAB_SECTION = """\
lab:
  name: foobar
  subnet: 192.168.56.0/24
  domain: www.foobar.com
"""
WEB_02 = """\
  web-02:
    address: 192.168.56.12
    roles: [base, db_replica, web, app]
"""
EXTRA_NODE = '  "{}": {{address: 192.168.56.13, roles: [base]}}\n'
VALID = (
    LAB_SECTION
    + """\
nodes:
  lb-01:
    address: 192.168.56.10
    roles: [base, loadbalancer]
  web-01:
    address: 192.168.56.11
    roles: [base, db_primary, web, app]
"""
    + WEB_02
)


def write(tmp_path: Path, text: str | bytes) -> Path:
    """A lab file in tmp_path with the given content."""
    path = tmp_path / "lab.yml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def load_error(path: Path) -> str:
    """The message of the TopologyError that loading path raises."""
    with pytest.raises(TopologyError) as caught:
        load(path)
    return str(caught.value)


def test_default_lab_loads(lab: Lab) -> None:
    """configs/lab.yml: three nodes on 192.168.56.0/24, the gateway .1, roles as designed."""
    assert lab.name == "foobar"
    assert lab.source == DEFAULT_LAB_FILE
    assert lab.gateway == ipaddress.IPv4Address("192.168.56.1")
    assert [(n.name, str(n.address)) for n in lab.nodes] == [
        ("lb-01", "192.168.56.10"),
        ("web-01", "192.168.56.11"),
        ("web-02", "192.168.56.12"),
    ]
    assert all(n.has_role("base") for n in lab.nodes)
    assert [n.name for n in lab.with_role("loadbalancer")] == ["lb-01"]
    assert [n.name for n in lab.with_role("web")] == ["web-01", "web-02"]
    assert [n.name for n in lab.with_role("db_primary")] == ["web-01"]
    assert [n.name for n in lab.with_role("db_replica")] == ["web-02"]


def test_valid_template_loads(tmp_path: Path) -> None:
    """The file the bad cases below are derived from is itself valid (so each case breaks one thing)."""
    assert [n.name for n in load(write(tmp_path, VALID)).nodes] == ["lb-01", "web-01", "web-02"]


def test_unknown_node_name_is_an_error(lab: Lab) -> None:
    """Lab.node() names the file and the nodes there are."""
    with pytest.raises(TopologyError, match=r"no node named 'db-01' \(nodes: lb-01, web-01, web-02\)"):
        lab.node("db-01")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        pytest.param("[base, loadbalancer]", "[base, loadbalancer", "YAML error at line ", id="yaml-syntax"),
        pytest.param(LAB_SECTION, "", "lab: missing", id="missing-lab-section"),
        pytest.param(VALID, "- just a list\n", "(top level)", id="top-level-not-a-mapping"),
        pytest.param("name: foobar", "name: Foo_Bar", "lab.name", id="lab-name-uppercase"),
        pytest.param("name: foobar", "name: abcdefghijklm", "lab.name", id="lab-name-13-chars"),
        pytest.param("name: foobar", 'name: "foobar\\n"', "lab.name", id="lab-name-trailing-newline"),
        pytest.param("name: foobar", "name: 42", "lab.name", id="lab-name-not-text"),
        pytest.param("  name: foobar\n", "", "lab.name: missing", id="lab-name-missing"),
        pytest.param("192.168.56.0/24", "192.168.356.0/24", "lab.subnet", id="subnet-not-a-network"),
        pytest.param("192.168.56.0/24", "192.168.56.1/24", "lab.subnet", id="subnet-host-bits"),
        pytest.param("192.168.56.0/24", "192.168.56.0/30", "lab.subnet", id="subnet-too-small"),
        pytest.param("  lb-01:\n    address: 192.168.56.10\n    roles: [base, loadbalancer]\n", "", "nodes: loadbalancer: the design needs a load balancer", id="missing-balancer-node"),
        pytest.param(WEB_02, WEB_02.replace("web-02", "web-01"), "web-01: listed twice", id="duplicate-node"),
        pytest.param("  web-02:", "  Web_02:", "nodes.Web_02", id="node-name-invalid"),
        pytest.param(WEB_02, WEB_02 + EXTRA_NODE.format("db-01\\n"), "nodes.db-01", id="node-name-trailing-newline"),
        pytest.param(WEB_02, WEB_02 + EXTRA_NODE.format("db\\n01"), "nodes.db", id="node-name-inner-newline"),
        pytest.param("192.168.56.12", "10.0.0.12", "nodes.web-02.address", id="address-outside-subnet"),
        pytest.param("192.168.56.12", "192.168.56.255", "nodes.web-02.address", id="address-broadcast"),
        pytest.param("192.168.56.12", "192.168.56.1", "nodes.web-02.address", id="address-is-gateway"),
        pytest.param("192.168.56.12", "192.168.56.11", "nodes.web-02.address", id="address-used-twice"),
        pytest.param("192.168.56.12", "web-02.lan", "nodes.web-02.address", id="address-not-ipv4"),
        pytest.param("[base, db_replica, web, app]", "[base, webserver]", "nodes.web-02.roles: unknown role 'webserver'", id="unknown-role"),
        pytest.param("[base, db_replica, web, app]", "[base, web, web]", "nodes.web-02.roles", id="role-twice"),
        pytest.param("[base, db_replica, web, app]", "base", "nodes.web-02.roles", id="roles-not-a-list"),
        pytest.param("[base, db_replica, web, app]", "[]", "nodes.web-02.roles", id="roles-empty"),
        pytest.param(
            "  domain: www.foobar.com\n", "  domain: www.foobar.com\n  tls_to_servers: reencrypt\n",
            "lab.tls_to_servers: reencrypt needs HTTPS: switch on features.https, or remove the key", id="tls-to-servers-without-https",
        ),
        pytest.param(
            "  domain: www.foobar.com\n", "  domain: www.foobar.com\n  tls_to_servers: re-encrypt\nfeatures: {https: true}\n",
            "lab.tls_to_servers: 're-encrypt' is not one of terminate, reencrypt, passthrough", id="tls-to-servers-unknown",
        ),
        pytest.param(
            "  domain: www.foobar.com\n", "  domain: www.foobar.com\n  tls_to_servers: true\nfeatures: {https: true}\n",
            "lab.tls_to_servers: True is not one of terminate, reencrypt, passthrough", id="tls-to-servers-not-text",
        ),
    ],
)
def test_bad_file_is_one_line_naming_file_and_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    """Each broken lab.yml raises TopologyError: one line, the file first, then the field."""
    assert old in VALID, "the case must change the valid template"
    path = write(tmp_path, VALID.replace(old, new))
    message = load_error(path)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert field in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(None, "cannot read the lab file: No such file or directory", id="missing-file"),
        pytest.param(b"lab:\n  name: caf\xe9\n", "", id="not-utf8"),
        pytest.param("? [a, b]\n: 1\n", "", id="unhashable-key"),
        pytest.param("", "(top level)", id="empty-file"),
    ],
)
def test_unusable_file_is_a_topology_error(tmp_path: Path, content: str | bytes | None, problem: str) -> None:
    """A file that cannot be read or parsed is a one-line TopologyError naming it, never another exception."""
    path = tmp_path / "absent.yml" if content is None else write(tmp_path, content)
    message = load_error(path)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert problem in message


def test_relocate_round_trips_through_yaml(lab: Lab, tmp_path: Path) -> None:
    """A relocated lab written with to_yaml() loads back with its name, subnet, host numbers and roles."""
    moved = load(write(tmp_path, to_yaml(relocate(lab, "fftest", "10.181.57.0/24"))))
    assert moved.name == "fftest"
    assert moved.subnet == ipaddress.IPv4Network("10.181.57.0/24")
    assert moved.gateway == ipaddress.IPv4Address("10.181.57.1")
    assert moved.domain == lab.domain
    assert [str(n.address) for n in moved.nodes] == ["10.181.57.10", "10.181.57.11", "10.181.57.12"]
    assert [(n.name, n.roles) for n in moved.nodes] == [(n.name, n.roles) for n in lab.nodes]


@pytest.mark.parametrize("mode", ["terminate", "reencrypt", "passthrough"])
def test_tls_to_servers_loads_and_round_trips(tmp_path: Path, mode: str) -> None:
    """Each way of carrying TLS past the load balancer is kept through relocate() and to_yaml(); terminate, the
    default, is not written out (a design file without the key means it)."""
    https = VALID.replace("  domain: www.foobar.com\n", f"  domain: www.foobar.com\n  tls_to_servers: {mode}\nfeatures: {{https: true}}\n")
    lab = load(write(tmp_path, https))
    assert lab.tls_to_servers == mode
    text = to_yaml(relocate(lab, "fftest", "10.181.57.0/24"))
    assert ("tls_to_servers" in text) == (mode != "terminate")
    assert load(write(tmp_path, text)).tls_to_servers == mode


def test_tls_to_servers_defaults_to_terminate(lab: Lab) -> None:
    assert lab.tls_to_servers == "terminate"


# The design rules: what the roles need of each other, checked when the file loads ----------------

LB = "[base, loadbalancer]"
PRIMARY = "[base, db_primary, web, app]"
REPLICA = "[base, db_replica, web, app]"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(REPLICA, PRIMARY, "nodes.web-02.roles: db_primary: one database primary (two would each take writes the other never sees) (web-01 has db_primary already)", id="two-primaries"),
        pytest.param(PRIMARY, "[base, web, app]", "nodes.web-02.roles: db_replica: a replica needs a primary on another node (no node has the role db_primary)", id="replica-without-primary"),
        pytest.param(LB, "[base]", "nodes: loadbalancer: the design needs a load balancer in front of the site (no node has the role loadbalancer)", id="no-balancer"),
        pytest.param("web, app]", "web]", "nodes.web-01.roles: web: a web server needs an application server to proxy to (no node has the role app)", id="web-without-any-app"),
        pytest.param("    address: 192.168.56.11", "    adress: 192.168.56.11", "nodes.web-01.adress: unknown key: did you mean 'address'?", id="misspelt-key"),
        pytest.param("domain: www.foobar.com", "domain: www.foo bar.com", "lab.domain: 'www.foo bar.com' is not a host name", id="domain-with-a-space"),
        pytest.param("domain: www.foobar.com", "domain: localhost", "lab.domain: 'localhost' is not a host name", id="domain-one-label"),
        pytest.param(REPLICA, "[base, db_primary, db_replica, web, app]", "nodes.web-02.roles: db_primary: one database primary", id="primary-and-replica-on-one-node"),
        pytest.param(PRIMARY, "[base, db_primary, db_replica, web, app]", "nodes.web-01.roles: db_replica: a replica needs a primary on another node (this node is the primary itself)", id="replica-is-its-own-primary"),
        pytest.param(REPLICA, LB, "lab.floating_address: loadbalancer: two or more load balancers need lab.floating_address", id="two-balancers-no-floating-address"),
        pytest.param("  domain: www.foobar.com\n", "  domain: www.foobar.com\n  floating_address: 192.168.56.100\n", "lab.floating_address: loadbalancer: a floating address needs two or more load balancers", id="floating-address-one-balancer"),
        pytest.param(LB, "[loadbalancer]", "nodes.lb-01.roles: base: every node needs base", id="base-missing"),
        pytest.param(LB, "[base, loadbalancer, web]", "nodes.lb-01.roles: loadbalancer: a load balancer needs the site's ports to itself: put the web server on another node (lb-01 has web too: HAProxy and Nginx would both listen on 80)", id="balancer-and-web-on-one-node"),
        pytest.param("nodes:", "nodez:", "nodez: unknown key: did you mean 'nodes'?", id="unknown-top-key"),
        pytest.param("  name: foobar", "  name: foobar\n  nmae: x", "lab.nmae: unknown key: did you mean 'name'?", id="unknown-lab-key"),
    ],
)
def test_design_rules_are_checked_when_the_file_loads(tmp_path: Path, old: str, new: str, message: str) -> None:
    """Each broken design is refused in one line naming the file, the field, the role and its rule."""
    assert old in VALID, "the case must change the valid design"
    path = write(tmp_path, VALID.replace(old, new))
    error = load_error(path)
    assert "\n" not in error
    assert error.startswith(f"{path}: {message}"), error


def test_application_without_any_database(tmp_path: Path) -> None:
    no_database = VALID.replace(PRIMARY, "[base, web, app]").replace(REPLICA, "[base, web, app]")
    error = load_error(write(tmp_path, no_database))
    assert error.endswith("nodes.web-01.roles: app: an application server needs a database primary to write to (no node has the role db_primary)")


def test_a_web_server_without_its_own_application_proxies_to_the_others(tmp_path: Path) -> None:
    """web without app is a design, not an error, when an application server exists elsewhere."""
    lab = load(write(tmp_path, VALID.replace(REPLICA, "[base, db_replica, web]")))
    assert [n.name for n in lab.upstream_apps(lab.node("web-02"))] == ["web-01"]
    assert lab.read_database(lab.node("web-01")).name == "web-01"


def test_named_parts_of_the_default_design(lab: Lab) -> None:
    assert [n.name for n in lab.balancers] == ["lb-01"]
    assert str(lab.entry_address) == "192.168.56.10" and lab.entry_name == "lb-01"
    assert lab.primary.name == "web-01"
    assert [n.name for n in lab.replicas] == ["web-02"]
    assert [n.name for n in lab.db_nodes] == ["web-01", "web-02"]
    assert [n.name for n in lab.app_nodes] == [n.name for n in lab.web_nodes] == ["web-01", "web-02"]
    assert lab.read_database(lab.node("web-02")).name == "web-02"
    assert lab.admin_address == lab.gateway


def test_floating_address_is_the_entry_and_relocates(tmp_path: Path) -> None:
    two = VALID.replace(REPLICA, LB + "\n  web-03:\n    address: 192.168.56.13\n    roles: " + REPLICA).replace(
        "  domain: www.foobar.com\n", "  domain: www.foobar.com\n  floating_address: 192.168.56.100\n"
    )
    lab = load(write(tmp_path, two))
    assert str(lab.entry_address) == "192.168.56.100" and lab.entry_name == "the floating address"
    moved = relocate(lab, "other", "10.1.2.0/24")
    assert str(moved.floating_address) == "10.1.2.100"
    assert load(write(tmp_path, to_yaml(moved))).floating_address == moved.floating_address
