"""One module per channel kind; importing this package registers them all."""

from responders.channels import log, webhook  # noqa: F401
