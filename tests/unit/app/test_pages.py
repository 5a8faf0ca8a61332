"""The HTML board: GET / and the form posting to /messages."""

from __future__ import annotations

from flask.testing import FlaskClient

from .conftest import FakeStorage


def test_board_says_which_node_served_it_and_lists_messages(client: FlaskClient, storage: FakeStorage) -> None:
    storage.add_message("hello <b>world</b>", "web-02")
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["X-App-Node"] == "web-01"
    assert response.mimetype == "text/html"
    assert "Served by <span class=\"node\">web-01</span>" in page
    assert "hello &lt;b&gt;world&lt;/b&gt;" in page  # escaped, not markup
    assert "taken by web-02" in page
    assert "2024-05-01 12:00:00 UTC" in page
    assert 'action="/messages"' in page and 'name="body"' in page


def test_board_without_messages(client: FlaskClient) -> None:
    assert "No messages yet." in client.get("/").get_data(as_text=True)


def test_form_post_stores_and_redirects_with_303(client: FlaskClient, storage: FakeStorage) -> None:
    response = client.post("/messages", data={"body": "line one\r\nline two"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/")
    assert [(m.body, m.node) for m in storage.messages] == [("line one\nline two", "web-01")]


def test_form_post_of_an_empty_body_rerenders_with_400(client: FlaskClient, storage: FakeStorage) -> None:
    response = client.post("/messages", data={"body": "   "})
    assert response.status_code == 400
    assert "body is empty" in response.get_data(as_text=True)
    assert storage.messages == []


def test_form_post_without_the_field_rerenders_with_400(client: FlaskClient) -> None:
    response = client.post("/messages", data={})
    assert response.status_code == 400
    assert "body is empty" in response.get_data(as_text=True)


def test_form_post_of_a_long_body_rerenders_with_413_and_keeps_the_draft(
    client: FlaskClient, storage: FakeStorage
) -> None:
    draft = "y" * 501
    response = client.post("/messages", data={"body": draft})
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "body is longer than 500 characters" in page
    assert f">{draft}</textarea>" in page
    assert storage.messages == []


def test_form_post_with_the_primary_down_rerenders_with_503(client: FlaskClient, storage: FakeStorage) -> None:
    storage.write_error = "write database 192.168.56.11:3306: timed out (error 2003)"
    response = client.post("/messages", data={"body": "hello"})
    assert response.status_code == 503
    assert "cannot store the message: write database 192.168.56.11:3306: timed out" in response.get_data(as_text=True)


def test_board_with_the_read_database_down_answers_503(client: FlaskClient, storage: FakeStorage) -> None:
    storage.read_error = "read database 127.0.0.1:3306: Lost connection (error 2013)"
    response = client.get("/")
    assert response.status_code == 503
    assert "cannot read messages: read database 127.0.0.1:3306" in response.get_data(as_text=True)


def test_html_404_is_not_json(client: FlaskClient) -> None:
    response = client.get("/nothing")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert response.headers["X-App-Node"] == "web-01"


def test_board_says_what_the_node_reads_from(storage: FakeStorage) -> None:
    """With FOOBAR_DB_ROLE=auto (the build's setting), the page says replica or primary, as the health page works out."""
    from dataclasses import replace

    from foobar_app.app import create_app
    from foobar_app.storage import NOT_REPLICATING, Replication

    from .conftest import PRIMARY, REPLICA

    assert "(reads from the primary)" in create_app(PRIMARY, storage).test_client().get("/").get_data(as_text=True)
    auto = create_app(replace(REPLICA, db_role="auto"), storage).test_client()
    assert "(reads from the replica)" in auto.get("/").get_data(as_text=True)
    storage.replication = Replication.unknown(NOT_REPLICATING)  # promoted: its database no longer replicates
    page = auto.get("/").get_data(as_text=True)
    assert "(reads from the primary)" in page and "(database: auto)" not in page
