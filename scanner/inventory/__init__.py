"""Inventory: YAML files -> a validated Inventory (load, schema, yamlsource with source positions)."""
