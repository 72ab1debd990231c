"""`isoscan watch`: a probe that never sleeps.

    listen.py   one kernel-filtered AF_PACKET socket per vantage interface
    decode.py   frames -> what they say (a station heard, an advert, an offer), with struct
    rules.py    the checks' own rules (DEV-UNREGISTERED, DEV-CONFLICT, DEV-MISPLACED,
                NET-DHCP, NET-IPV6-RA) run on what one frame showed
    state.py    bounded tables: stations, address owners, registered devices' silence
    events.py   the event record (JSON line, alert, store row)
    sweep.py    the light ARP/ND sweep and the DHCP/RS solicitations (the scan's own frames)
    tracker.py  the event rules: what was heard on one segment -> events, deduplicated
    privs.py    dropping privileges once the sockets are open
    runner.py   the loop

Beside it, in the layers above: scanner/store/watchlog.py (events, keys and
heartbeats in the store), scanner/alerts/watchsink.py (the store and the alert
channels, off the listening thread), scanner/alerts/watch_health.py (a watch that
stopped beating is vantage-silent), scanner/serve/routes/events.py (the console's page).
"""
