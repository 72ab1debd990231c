"""The unit's register (台账) as an inventory source: `isoscan inventory import | export`.

    read.py     the file (.xlsx/.xls/.csv) as sheets of rows; hostile files refused
    clean.py    cell values to text: numbers and dates as read, full-width folded, spaces tidied
    columns.py  which column holds what: the usual names, the header row under title rows
    mapfile.py  the map file, for what the names cannot settle
    place.py    a device's segment: by its network cell, its IP, its sheet
    build.py    rows -> devices and problems (sheet, row, column), duplicates
    yamlout.py  devices.yaml (generated, naming its source)
    export.py   the inventory back as a printable register, with what the network saw

docs/ledger.md is the user's side of it.
"""
