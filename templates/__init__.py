"""Report templates (installed as scanner.templates)."""
