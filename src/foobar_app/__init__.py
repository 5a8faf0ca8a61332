"""foobar_app: the message board that www.foobar.com serves from web-01 and web-02."""

__version__ = "1.0.0"
