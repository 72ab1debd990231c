"""Evidence an inspector can trust: keys, signed documents, the chain, verification,
the inspection record, the PDF and the evidence package."""
