"""The console (`isoscan serve`, issue 16): one web application that collects
every probe's bundles and shows the unit's state.

    config.py    console.yaml: intervals, trusted keys, cookies, proxy auth
    tables.py    the console's own tables (users, tokens, audit log, ...)
    accounts.py  users (argon2), probe tokens (hashed), the login rate limit
    intake.py    one bundle (pushed or spooled) into the store, as `ingest` does
    spool.py     the spool folder: complete files only, done/ or rejected/
    sessions.py  server-side sessions (only the id's SHA-256 kept), idle and absolute limits
    scope.py     what a token bound to segments may push
    slowclients.py  read deadlines for a request's head and body (uvicorn's h11 protocol)
    unit.py      the unit's state the pages read, cached per new scan
    waiverstore.py  waivers and acknowledgements kept in the store
    views.py     what the pages show, read from the store (no HTTP)
    app.py       the Starlette application and the Console state: sessions, CSRF, roles, audit
    routes/     its routes, one module per page group (state on app.state.console)
    strings.py   every text of the pages, zh-CN and en
    client.py    `isoscan push` / `scan --push`: urllib only, no extra

Only app.py needs the `console` extra (starlette, uvicorn, argon2-cffi,
pyotp); a probe that only pushes (client.py) needs none of it.
"""
