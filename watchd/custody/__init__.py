"""Chain of custody: ASC MHL offload histories read, files hashed, receipts written.

A layer beside ``store`` and ``flowcapture``: it imports only ``watchd.base``.
``ingest`` verifies each file against its history before completing it and
writes a receipt when its batch is done; the CLI reports and checks folders.
"""
