"""The report: merging bundles (merge), rendering HTML (render), its strings and the topology picture."""
