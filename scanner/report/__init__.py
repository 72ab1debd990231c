"""The report: merging bundles (merge), rendering HTML (render), its strings and the
topology picture. May import store/, judge/ (crossbundle/ for judging across
bundles), documents/, model/ and below; never serve/ or commands/."""
