"""The design's constants: ports, names and paths that roles, templates, checks and drills share.

One place: a port or a database name changed here changes it everywhere that reads it.
"""

from __future__ import annotations

# Ports
HTTP_PORT = 80
HTTPS_PORT = 443
STATS_PORT = 8404  # HAProxy's statistics page
APP_PORT = 8000  # the application server (gunicorn)
DB_PORT = 3306  # MariaDB
SSH_PORT = 22

# Monitoring: exporters on the servers, Prometheus and Alertmanager on the monitoring server
NODE_EXPORTER_PORT = 9100
MYSQLD_EXPORTER_PORT = 9104
HAPROXY_METRICS_PORT = 8405
APP_METRICS_PORT = 9180
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
ALERT_LOG = "/var/log/foobar-alerts.jsonl"  # every alert Alertmanager delivers, fired and resolved

# The database and its accounts
DATABASE = "foobar"
APP_USER = "foobar_app"
REPLICATION_USER = "foobar_repl"
EXPORTER_USER = "exporter"

# The application on the nodes
APP_SERVICE = "foobar-app"
APP_SYSTEM_USER = "foobar"
APP_WORKERS = 3
APP_ROOT = "/srv/foobar"
APP_ENV = "/etc/foobar/app.env"
APP_DELAY_FILE = "/run/foobar-app-delay-ms"  # the application's own switch for the slow-server drill (foobar_app.app.DELAY_FILE)

# What the drills leave on a node while a fault lasts (a build removes what an abandoned restore left)
DRILL_TABLE = "foobar_drill"  # the nftables table of a partition drill

# Where the lab stages files on a node before they go live
STAGING = "/var/tmp/foobar_fab"

# The header each web server adds to every answer, naming itself: round robin made visible
SERVED_BY = "X-Served-By"
APP_NODE = "X-App-Node"  # the application adds it too: which application server answered
HEALTH_PATH = "/api/health"
BALANCER_CA = "/etc/haproxy/certs/ca.pem"  # the lab's CA on a load balancer that speaks TLS to the web servers
HSTS_MAX_AGE = 300  # seconds browsers keep to HTTPS: short, so the lab's names stay usable over plain HTTP after a downgrade
