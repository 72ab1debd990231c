"""Alerts on regressions: rules (pure), channels (syslog, webhook, e-mail), the outbox
that sends each alert once per channel. May import store/, judge/, documents/, model/
and below; never report/, serve/ or commands/."""
