"""foobar_fab: builds, checks and breaks the three-server web lab of www.foobar.com."""
