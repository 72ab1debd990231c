"""The lab: real test networks of Linux network namespaces."""
