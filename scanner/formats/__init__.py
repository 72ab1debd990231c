"""Output formats of `isoscan validate`: text, json, sarif, junit."""
