"""One module per channel kind; importing this package registers them all."""

from responders.channels import email, log, webhook  # noqa: F401
