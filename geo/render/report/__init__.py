"""The monitoring report: a folder that opens from disk, for authors to write around.

- ``tables``: the ranked table of a level and the whole area's development, as frames and
  csv-de.
- ``figures``: choropleth maps and development charts as 300 dpi PNG and SVG (matplotlib).
- ``page``: ``index.html`` (German): introduction, method, per theme and indicator the
  figures, tables, definitions and sources.
- ``pdf``: the same as an A4 PDF (optional).
- ``write``: ``write_report``, the folder with a progress bar.

Nothing withheld appears in any figure, table or text: every part reads published values.
"""
