"""Patient exports a home physician or a regulator can use.

Pure builders over plain values: `records` (what an export reads),
`summary` (the English summary as document blocks), `document` (blocks and
their Markdown), `pdf` (the same blocks as a PDF), `fhir` (a FHIR R4 Bundle)
and `formats` (one entry point per kind of file). The database fills the
records (`db.exports`); nothing here touches storage or the network.
"""
