"""Alerts on regressions (issue 14): rules (pure), channels (syslog, webhook,
e-mail), the outbox that sends each alert once per channel."""
