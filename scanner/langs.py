"""The report languages (zh-CN by default), apart from scanner.model so that a
command's options can name them without importing netaddr and the model (the
report's store reader starts before those imports: scanner/store/reader.py)."""
LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
