"""Evidence an inspector can trust: keys, signed documents, the chain, verification,
the inspection record, the PDF and the evidence package. May import store/, judge/,
documents/ (the canonical JSON), model/ and below; never serve/ or commands/."""
