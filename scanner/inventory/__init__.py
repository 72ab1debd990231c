"""Inventory: YAML files -> a validated Inventory (load, schema, yamlsource with
source positions); owns INV-SCHEMA's metadata (schema_check.py). May import
model/ and identity.py only."""
