"""One module per channel kind; importing this package registers them all."""

from responders.channels import dingtalk, email, feishu, log, telegram, wecom, webhook  # noqa: F401
