"""Documents: read and parse bundles and canary logs (from bytes or a path),
the canonical JSON, the size caps. Owns no judging; imports only scanner.model
and the standard library."""
