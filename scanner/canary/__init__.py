"""The outside canary: tokens, the passive listener, judging its log against bundles."""
