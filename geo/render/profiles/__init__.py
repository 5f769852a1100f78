"""Area profiles: everything published about one area, as HTML, PDF and JSON.

- ``words``: the German words of profiles and reports (withheld, missing, comparisons, ranks).
- ``definitions``: an indicator's definition, sources and reference date from the catalogue.
- ``ranking``: ranks, comparison with the parent area and spine statistics of a level.
- ``data``: ``area_profile``, the profile of one area (published values only).
- ``search``: areas by name or key.
- ``svg``, ``charts``, ``locator``: spine and trend charts and the locator map as inline SVG.
- ``page``, ``pdf``, ``document``: the profile as an HTML page, an A4 PDF and JSON.

Import the module you need; nothing here reads a value that disclosure control withheld.
"""
