"""Unit tests of the web application, src/foobar_app."""
